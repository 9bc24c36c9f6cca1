package pipeline

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mlads/mlads/internal/flow"
)

func testRecord(i int) flow.Record {
	r := flow.Record{
		TS:  time.Unix(1_700_000_000+int64(i), int64(i)*1000).UTC(),
		UID: fmt.Sprintf("C%08d", i), OrigH: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), OrigP: uint16(40000 + i),
		RespH: netip.MustParseAddr("2001:db8::1"), RespP: 443, Proto: flow.ProtoTCP, IPProto: 6, Service: "ssl",
		Duration: time.Duration(i) * time.Millisecond, OrigBytes: uint64(i) * 7, RespBytes: 1 << 40, ConnState: "SF",
		MissedBytes: 3, History: "ShADadFf", OrigPkts: 9, OrigIPBytes: 900, RespPkts: 12, RespIPBytes: 1 << 33,
		CommunityID: "1:abc=", VLAN: 100, InnerVLAN: 7, Source: flow.SourceZeek, Label: "Malicious",
	}
	if i%3 == 0 {
		r.TunnelParents = []string{"Couter", "Cmiddle"}
		r.RespH = netip.MustParseAddr("fe80::1%eth0")
	}
	if i%5 == 0 {
		r.OrigH, r.Service, r.Label = netip.Addr{}, "", ""
	}
	return r
}

// TestStoreKeepsEveryFieldInOrder adds flows beyond the memory bound and
// reads back every field of every flow, in order, from memory and from the
// spill file.
func TestStoreKeepsEveryFieldInOrder(t *testing.T) {
	dir := t.TempDir()
	s := NewStore(10, dir)
	var want []flow.Record
	for i := range 1000 {
		r := testRecord(i)
		want = append(want, r)
		tp := r.TunnelParents
		if err := s.Add(&r); err != nil {
			t.Fatal(err)
		}
		if tp != nil {
			tp[0] = "reused" // the parser's buffer is reused: the Store must have copied
		}
	}
	for i := range want {
		if want[i].TunnelParents != nil {
			want[i].TunnelParents = []string{"Couter", "Cmiddle"}
		}
	}
	if s.Len() != 1000 || s.Spilled() != 990 {
		t.Fatalf("Len %d, Spilled %d; want 1000 and 990", s.Len(), s.Spilled())
	}
	for pass := range 2 { // Each can be called again
		var got []flow.Record
		if err := s.Each(func(r *flow.Record) error {
			c := *r
			got = append(got, c)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
			cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); d != "" {
			t.Fatalf("pass %d (-want +got):\n%s", pass, d)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.spill"))
	if len(files) != 1 {
		t.Fatalf("spill files %v", files)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if files, _ = filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("Close left %v", files)
	}
}

// TestStoreSpillIsCompact: a spilled record takes far less than one in
// memory.
func TestStoreSpillIsCompact(t *testing.T) {
	r := testRecord(1)
	n := len(appendRecord(nil, &r))
	if n > 120 {
		t.Errorf("a record spills to %d bytes; want at most 120", n)
	}
	t.Logf("%d bytes a record in the spill file", n)
}

// TestStoreCorruptSpill: a damaged spill file is an error naming the file,
// never a panic or a silently wrong record.
func TestStoreCorruptSpill(t *testing.T) {
	for _, cut := range []int{1, 5, 17, 40} {
		r := testRecord(3)
		b := appendRecord(nil, &r)
		b = append(b[:len(b)-cut:len(b)-cut], bytes.Repeat([]byte{0xff}, cut-1)...)
		var d decoder
		var got flow.Record
		err := d.read(bufio.NewReader(bytes.NewReader(b)), &got)
		if err == nil {
			t.Errorf("cut %d: no error", cut)
		}
	}
	s := NewStore(1, t.TempDir())
	for i := range 3 {
		r := testRecord(i)
		if err := s.Add(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(s.spill.Name(), 30); err != nil {
		t.Fatal(err)
	}
	err := s.Each(func(*flow.Record) error { return nil })
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(s.spill.Name())) {
		t.Errorf("Each over a cut spill file: %v", err)
	}
	stop := errors.New("stop")
	if err := s.Each(func(*flow.Record) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("Each returns fn's error: %v", err)
	}
	_ = s.Close()
}

func BenchmarkStore(b *testing.B) {
	recs := make([]flow.Record, 1024)
	for i := range recs {
		recs[i] = testRecord(i)
	}
	s := NewStore(1, b.TempDir())
	defer s.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Add(&recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreMemory keeps 100,000 flows in a fresh Store's memory per
// iteration: the copying and the allocations of keeping them.
func BenchmarkStoreMemory(b *testing.B) {
	recs := make([]flow.Record, 1024)
	for i := range recs {
		recs[i] = testRecord(i)
	}
	const n = 100_000
	b.ReportAllocs()
	for b.Loop() {
		s := NewStore(0, b.TempDir())
		for i := range n {
			if err := s.Add(&recs[i%len(recs)]); err != nil {
				b.Fatal(err)
			}
		}
		_ = s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/flow")
}
