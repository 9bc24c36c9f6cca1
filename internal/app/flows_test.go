package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/config"
)

func runFlows(t testing.TB, format string, paths ...string) (out, status string, err error) {
	t.Helper()
	var buf bytes.Buffer
	st, ferr := os.CreateTemp(t.TempDir(), "status")
	if ferr != nil {
		t.Fatal(ferr)
	}
	defer st.Close()
	err = Flows(context.Background(), config.Default(), FlowsOptions{Format: format, Paths: paths, Out: &buf, Status: st})
	b, _ := os.ReadFile(st.Name())
	return buf.String(), string(b), err
}

// TestFlowsSample runs `mlads flows` on the shipped sample capture: every
// line is a JSON flow, the summary names the counts, and the scan in the
// sample shows up as its rejected connections.
func TestFlowsSample(t *testing.T) {
	out, status, err := runFlows(t, "json", filepath.Join("..", "..", "testdata", "sample.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var n, rej int
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %d is not JSON: %v", n+1, err)
		}
		n++
		if rec["id.orig_h"] == "10.1.0.66" && rec["conn_state"] == "REJ" {
			rej++
		}
	}
	if n < 1000 {
		t.Errorf("only %d flows", n)
	}
	if rej < 1000 {
		t.Errorf("the scan of 1024 ports gave %d rejected flows, want at least 1000", rej)
	}
	if !strings.Contains(status, "1 files,") || !strings.Contains(status, "packets 14840") {
		t.Errorf("summary line: %q", status)
	}
}

// TestFlowsZeekFormat checks --format zeek gives a conn.log with Zeek's
// headers and one row per flow of the JSON output.
func TestFlowsZeekFormat(t *testing.T) {
	sample := filepath.Join("..", "..", "testdata", "sample.pcap")
	js, _, err := runFlows(t, "json", sample)
	if err != nil {
		t.Fatal(err)
	}
	tsv, _, err := runFlows(t, "zeek", sample)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(tsv, "\n"), "\n")
	for _, h := range []string{"#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-", "#path\tconn"} {
		if !strings.Contains(tsv, h+"\n") {
			t.Errorf("no header line %q", h)
		}
	}
	var rows int
	for _, l := range lines {
		if !strings.HasPrefix(l, "#") {
			rows++
		}
	}
	if want := strings.Count(js, "\n"); rows != want {
		t.Errorf("zeek format has %d rows, json %d", rows, want)
	}
}

// TestFlowsBadInputs: a bad file is named in the error, the good file's
// flows are still written.
func TestFlowsBadInputs(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.bin")
	if err := os.WriteFile(garbage, []byte("this is not a capture\n\x00\x01"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, status, err := runFlows(t, "json", garbage, filepath.Join("..", "..", "testdata", "sample.pcap"))
	if err == nil || !strings.Contains(err.Error(), "garbage.bin") {
		t.Fatalf("err = %v, want one naming garbage.bin", err)
	}
	if strings.Count(out, "\n") < 1000 {
		t.Errorf("the good file's flows were not written (%d lines)", strings.Count(out, "\n"))
	}
	if !strings.Contains(status, "1 files with errors") {
		t.Errorf("summary does not count the bad file: %q", status)
	}
}
