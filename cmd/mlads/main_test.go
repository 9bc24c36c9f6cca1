package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestUsageErrors: mistakes in how mlads is called are usage errors (exit
// status 2); a file that cannot be read is not.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"flows", "--format", "xml", "x.pcap"}, true, `--format "xml"`},
		{[]string{"flows", "--no-such-flag", "x.pcap"}, true, "unknown flag"},
		{[]string{"flows", "/nonexistent/x.pcap"}, false, "/nonexistent/x.pcap"},
		{[]string{"capture", "-i", "lo", "--cpus", "9999"}, true, "capture.cpus: [9999]: CPU 9999 is not one this process may run on"},
		{[]string{"capture", "-i", "lo", "--cpus", "zero"}, true, `invalid argument "zero" for "--cpus"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			root := newRoot()
			root.SetArgs(tt.args)
			root.SetOut(new(bytes.Buffer))
			root.SetErr(new(bytes.Buffer))
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if got := errors.As(err, new(usageError)); got != tt.usage {
				t.Errorf("usage error = %v, want %v (%v)", got, tt.usage, err)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "mlads ") {
		t.Errorf("version printed %q", out.String())
	}
}
