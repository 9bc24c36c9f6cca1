package input_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/eve"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/input"
	"github.com/mlads/mlads/internal/pcap"
	"github.com/mlads/mlads/internal/shareddata"
	"github.com/mlads/mlads/internal/zeek"
)

// sharedData returns the shared test data folder, skipping the test when
// it is absent.
func sharedData(tb testing.TB) string {
	tb.Helper()
	return shareddata.Dir(tb)
}

func gzipTo(tb testing.TB, src, dst string) string {
	tb.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(raw)
	zw.Close()
	if err := os.WriteFile(dst, b.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// TestDetectSharedData detects the format of real files of every kind,
// and of gzip copies made here (the name says nothing: they end in .bin).
func TestDetectSharedData(t *testing.T) {
	data := sharedData(t)
	tmp := t.TempDir()
	d := func(rel string) string { return filepath.Join(data, rel) }
	for _, tt := range []struct {
		path string
		want input.Format
	}{
		{d("zeek-btest/traces/wikipedia.pcap"), input.Pcap},
		{d("zeek-btest/traces/tcp/retransmit-timeout.pcapng"), input.Pcapng},
		{d("zeek-btest/traces/ftp/ftp-many-port-expected.pcap.gz"), input.Pcap},
		{d("zeek-btest/traces/portmapper-many-unanswered-calls.pcapng.gz"), input.Pcapng},
		{d("suricata-eve/menna-islam-zeus/zeus.pcapng"), input.Pcapng},
		{d("zeek-btest/conn/opt.basic__conn.log"), input.ZeekTSV},
		{d("zeek-btest/conn/core.tcp.bad-checksum-syn__conn.log"), input.ZeekTSV}, // a zeek-cut header row
		{d("slips-dataset/test10-mixed-zeek-dir/conn.log"), input.ZeekTSV},        // "\t#separator"
		{d("stratosphere-labeled/security-datasets-for-testing/008-zeek-mixed/data/conn.log.labeled"), input.ZeekTSV},
		{d("iot23-csv/CTU-Honeypot-Capture-4-1-labeled.csv"), input.ZeekTSV},
		{d("stratosphere-labeled/security-datasets-for-testing/002-zeek-scenario-port-scanning/conn.log"), input.ZeekJSON},
		{d("slips-dataset/test9-mixed-zeek-dir/conn.log"), input.ZeekJSON},
		{d("slips-dataset/test10-mixed-zeek-dir"), input.ZeekDir},
		{d("suricata-eve/menna-islam-zeus/eve.json"), input.EVE},
		{d("slips-dataset/test6-malicious.suricata.json"), input.EVE},
		{gzipTo(t, d("zeek-btest/conn/opt.basic__conn.log"), filepath.Join(tmp, "a.bin")), input.ZeekTSV},
		{gzipTo(t, d("suricata-eve/menna-islam-zeus/eve.json"), filepath.Join(tmp, "b.bin")), input.EVE},
		{gzipTo(t, d("slips-dataset/test9-mixed-zeek-dir/conn.log"), filepath.Join(tmp, "c.bin")), input.ZeekJSON},
	} {
		rel, _ := filepath.Rel(data, tt.path)
		t.Run(rel, func(t *testing.T) {
			got, err := input.Detect(tt.path)
			if err != nil || got != tt.want {
				t.Errorf("Detect = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	for _, rel := range []string{"README.md", "slips-dataset/test1-malicious.nfdump", "slips-dataset/test2-malicious.binetflow"} {
		if f, err := input.Detect(d(rel)); !errors.Is(err, input.ErrUnknownFormat) {
			t.Errorf("Detect(%s) = %v, %v; want ErrUnknownFormat", rel, f, err)
		}
	}
}

// TestDetectBytes covers the content rules with generated inputs.
func TestDetectBytes(t *testing.T) {
	for _, tt := range []struct {
		name string
		head string
		want input.Format
	}{
		{"pcap le", "\xd4\xc3\xb2\xa1\x02\x00\x04\x00", input.Pcap},
		{"pcap be", "\xa1\xb2\xc3\xd4\x00\x02\x00\x04", input.Pcap},
		{"pcap ns", "\x4d\x3c\xb2\xa1\x02\x00", input.Pcap},
		{"pcapng", "\x0a\x0d\x0d\x0a\x1c\x00\x00\x00", input.Pcapng},
		{"zeek tsv", "#separator \\x09\n#set_separator\t,\n", input.ZeekTSV},
		{"zeek fields only", "#fields\tts\tuid\n", input.ZeekTSV},
		{"btest banner then header", "### BTest baseline\n#separator \\x09\n", input.ZeekTSV},
		{"zeek-cut header row", "uid\tservice\thistory\nC1\thttp\tShAD\n", input.ZeekTSV},
		{"csv header", "ts,uid,id.orig_h,id.orig_p\n1,C1,10.0.0.1,1\n", input.ZeekTSV},
		{"zeek json", `{"ts":1.5,"uid":"C1","id.orig_h":"10.0.0.1"}` + "\n", input.ZeekJSON},
		{"zeek json nested id", `{"ts":1.5,"id":{"orig_h":"10.0.0.1"}}` + "\n", input.ZeekJSON},
		{"eve", `{"timestamp":"2024-01-01T00:00:00+0000","event_type":"alert"}` + "\n", input.EVE},
		{"other json", `{"a":1}` + "\n", input.Unknown},
		{"text", "hello world\n", input.Unknown},
		{"binetflow", "StartTime,Dur,Proto,SrcAddr\n", input.Unknown},
		{"empty lines then eve", "\n\n" + `{"event_type":"flow"}`, input.EVE},
		{"bom then zeek tsv", "\xef\xbb\xbf#separator \\x09\n", input.ZeekTSV},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := input.DetectBytes([]byte(tt.head)); got != tt.want {
				t.Errorf("DetectBytes = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestReadFilesMixed reads captures, logs, a log folder and EVE in one run:
// each file gives what its own reader gives, an unknown file is reported
// without stopping the others, and emit's error stops the run.
func TestReadFilesMixed(t *testing.T) {
	data := sharedData(t)
	d := func(rel string) string { return filepath.Join(data, rel) }
	paths := []string{
		d("zeek-btest/traces/wikipedia.pcap"),
		d("zeek-btest/traces/tcp/retransmit-timeout.pcapng"),
		d("zeek-btest/traces/ftp/ftp-many-port-expected.pcap.gz"),
		d("zeek-btest/conn/opt.basic__conn.log"),
		d("README.md"),
		d("suricata-eve/menna-islam-zeus/eve.json"),
		d("slips-dataset/test10-mixed-zeek-dir"),
		d("slips-dataset/test9-mixed-zeek-dir/conn.log"),
	}
	bySource := map[flow.Source]int64{}
	sum, err := input.ReadFiles(context.Background(), paths, input.Options{}, func(r *flow.Record) error {
		bySource[r.Source]++
		return nil
	})
	if !errors.Is(err, input.ErrUnknownFormat) || !strings.Contains(err.Error(), "README.md") {
		t.Errorf("err = %v, want the unknown README.md", err)
	}
	want := map[string]int64{}
	count := func(rel string, read func(string) (int64, error)) {
		n, err := read(d(rel))
		if err != nil {
			t.Fatal(err)
		}
		want[d(rel)] = n
	}
	zeekCount := func(p string) (int64, error) {
		st, err := zeek.ReadFile(context.Background(), p, func(*flow.Record) error { return nil })
		return st.Records, err
	}
	count("zeek-btest/conn/opt.basic__conn.log", zeekCount)
	count("slips-dataset/test10-mixed-zeek-dir", zeekCount)
	count("slips-dataset/test9-mixed-zeek-dir/conn.log", zeekCount)
	count("suricata-eve/menna-islam-zeus/eve.json", func(p string) (int64, error) {
		st, err := eve.ReadFile(context.Background(), p, func(*flow.Record) error { return nil })
		return st.Records, err
	})
	for _, fs := range sum.Files {
		t.Logf("%-70s %-9v %5d records %d bad %v", strings.TrimPrefix(fs.Path, data+"/"), fs.Format, fs.Records, fs.Bad, fs.Err)
		if w, ok := want[fs.Path]; ok && fs.Records != w {
			t.Errorf("%s: %d records, its reader alone gives %d", fs.Path, fs.Records, w)
		}
	}
	if sum.Files[0].Records == 0 || len(sum.Pcap) != 1 || sum.Pcap[0].Files != 3 {
		t.Errorf("captures: %d records, %d pcap runs", sum.Files[0].Records, len(sum.Pcap))
	}
	if bySource[flow.SourcePcap] != sum.Files[0].Records || bySource[flow.SourceEVE] != want[d("suricata-eve/menna-islam-zeus/eve.json")] {
		t.Errorf("records by source %v", bySource)
	}
	var total int64
	for _, n := range bySource {
		total += n
	}
	if total != sum.Records {
		t.Errorf("emitted %d, summary says %d", total, sum.Records)
	}

	stop := errors.New("stop")
	n := 0
	_, err = input.ReadFiles(context.Background(), paths[3:], input.Options{}, func(*flow.Record) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("emit error: got %v after %d records", err, n)
	}
}

// TestReadFilesCanceled stops at once on a canceled context.
func TestReadFilesCanceled(t *testing.T) {
	data := sharedData(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := input.ReadFiles(ctx, []string{filepath.Join(data, "suricata-eve/menna-islam-zeus/eve.json")}, input.Options{}, func(*flow.Record) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestReadFilesProgress reports progress over captures and logs alike:
// bytes and records only grow, and the last report covers every file.
func TestReadFilesProgress(t *testing.T) {
	data := sharedData(t)
	d := func(rel string) string { return filepath.Join(data, rel) }
	paths := []string{
		d("zeek-btest/traces/wikipedia.pcap"),
		d("zeek-btest/traces/ftp/ftp-many-port-expected.pcap.gz"),
		d("stratosphere-labeled/security-datasets-for-testing/011-zeek-mixed/data/conn.log.labeled"),
		d("slips-dataset/test10-mixed-zeek-dir"),
		d("slips-dataset/test6-malicious.suricata.json"),
	}
	var want int64
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() {
			want += fi.Size()
		}
	}
	want += fileSize(t, d("slips-dataset/test10-mixed-zeek-dir/conn.log"))
	var reports []input.Progress
	pc := pcap.DefaultConfig()
	inner := 0
	pc.Progress = func(pcap.Progress) { inner++ }
	sum, err := input.ReadFiles(context.Background(), paths, input.Options{Pcap: &pc, Progress: func(p input.Progress) {
		reports = append(reports, p)
	}}, func(*flow.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) < len(paths) || inner == 0 {
		t.Fatalf("%d progress reports for %d paths, pcap's own callback called %d times", len(reports), len(paths), inner)
	}
	for i := 1; i < len(reports); i++ {
		a, b := reports[i-1], reports[i]
		if b.BytesRead < a.BytesRead || b.Records < a.Records || b.Packets < a.Packets || b.FileIndex < a.FileIndex {
			t.Errorf("report %d went back: %+v after %+v", i, b, a)
		}
	}
	last := reports[len(reports)-1]
	if last.BytesRead != want || last.Records != sum.Records || last.FileIndex != len(paths)-1 || last.Packets == 0 {
		t.Errorf("last report %+v; want %d bytes, %d records", last, want, sum.Records)
	}
}

func fileSize(tb testing.TB, p string) int64 {
	tb.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}
