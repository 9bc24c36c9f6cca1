package pcap

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/flow"
)

func TestReadFilesKeepsGoingAfterABadFile(t *testing.T) {
	dir := agreeDataDir(t)
	good := filepath.Join(dir, "zeek-btest", "traces", "wikipedia.pcap")
	missing := filepath.Join(t.TempDir(), "nope.pcap")
	var flows int
	var progress []Progress
	cfg := DefaultConfig()
	cfg.Progress = func(p Progress) { progress = append(progress, p) }
	sum, err := ReadFiles(context.Background(), []string{missing, good}, cfg, func(r *flow.Record) error {
		flows++
		if r.Source != flow.SourcePcap || r.UID == "" {
			t.Errorf("record without source or uid: %+v", r)
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "nope.pcap") {
		t.Fatalf("error %v, want one naming nope.pcap", err)
	}
	if sum.Files != 1 || sum.Flows != 34 || flows != 34 || sum.Packets == 0 || sum.Bytes == 0 {
		t.Fatalf("summary %+v, %d flows emitted; want 1 file, 34 flows", sum, flows)
	}
	if len(progress) == 0 || progress[len(progress)-1].Packets != sum.Packets {
		t.Fatalf("progress reports %+v", progress)
	}
}

func TestReadFilesStopsOnEmitError(t *testing.T) {
	dir := agreeDataDir(t)
	good := filepath.Join(dir, "zeek-btest", "traces", "wikipedia.pcap")
	boom := errors.New("disk full")
	n := 0
	_, err := ReadFiles(context.Background(), []string{good, good}, DefaultConfig(), func(*flow.Record) error {
		n++
		if n == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 3 {
		t.Fatalf("err %v after %d records, want the emit error after 3", err, n)
	}
}

func TestReadFilesFlushesOnCancel(t *testing.T) {
	dir := agreeDataDir(t)
	good := filepath.Join(dir, "zeek-btest", "traces", "wikipedia.pcap")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	sum, err := ReadFiles(ctx, []string{good, good}, DefaultConfig(), func(*flow.Record) error { n++; return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if sum.Files != 1 || n == 0 || uint64(n) != sum.Flows {
		t.Fatalf("files %d, %d flows emitted (summary %d); want the first file's flows flushed", sum.Files, n, sum.Flows)
	}
}
