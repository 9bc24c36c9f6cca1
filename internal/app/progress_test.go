package app

import (
	"os"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	tests := []struct {
		elapsed       time.Duration
		bytes, total  int64
		packets, flow uint64
		want          string
	}{
		{2 * time.Second, 4e6, 0, 1500, 20, "1500 packets  20 flows  2.0 MB/s"},
		{10 * time.Second, 25e6, 100e6, 3_500_000, 12_000, " 25.0%  3.50M packets  12.0k flows  2.5 MB/s  ETA 30s"},
	}
	for _, tt := range tests {
		if got := progressLine(tt.elapsed, tt.bytes, tt.total, tt.packets, tt.flow); got != tt.want {
			t.Errorf("progressLine(%v, %d, %d, %d, %d)\n got %q\nwant %q", tt.elapsed, tt.bytes, tt.total, tt.packets, tt.flow, got, tt.want)
		}
	}
}

func TestProgressNotATerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := NewProgress(f, 100)
	if p != nil {
		t.Fatal("NewProgress on a plain file should draw nothing")
	}
	p.Update(1, 2, 3) // a nil Progress is valid
	p.Done()
}

// TestProgressDevNull: /dev/null is a character device but not a terminal;
// a run with stderr sent there draws nothing.
func TestProgressDevNull(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	if p := NewProgress(f, 100); p != nil {
		t.Fatal("NewProgress on /dev/null should draw nothing")
	}
}
