package capture

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/affinity"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/netns"
	"github.com/mlads/mlads/internal/pcap"
)

// wireFlow is what a test checks of a flow: counts, bytes and state.
type wireFlow struct {
	Proto     string
	RespP     uint16
	State     string
	OrigPkts  uint64
	OrigBytes uint64
	RespPkts  uint64
	RespBytes uint64
}

func (f wireFlow) String() string {
	return fmt.Sprintf("%s/%d %s orig %d pkts %d bytes, resp %d pkts %d bytes", f.Proto, f.RespP, f.State,
		f.OrigPkts, f.OrigBytes, f.RespPkts, f.RespBytes)
}

func wireOf(r *flow.Record) wireFlow {
	return wireFlow{Proto: r.Proto, RespP: r.RespP, State: r.ConnState, OrigPkts: r.OrigPkts,
		OrigBytes: r.OrigBytes, RespPkts: r.RespPkts, RespBytes: r.RespBytes}
}

// captureIn opens a capture of the pair's B end from inside B and runs it
// until stop is called; stop returns the flows.
func captureIn(t *testing.T, p *netns.Pair, cfg Config) (c *Capture, stop func() []flow.Record) {
	t.Helper()
	err := netns.Do(p.B, func() error {
		var err error
		c, err = Open(cfg)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var recs []flow.Record
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, func(r *flow.Record) error {
			mu.Lock()
			recs = append(recs, *r)
			mu.Unlock()
			return nil
		})
	}()
	return c, func() []flow.Record {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		return recs
	}
}

// TestExactFlowsFromWire: ping, a TCP connection with data, a refused
// connection and UDP, sent between two namespaces, come out of a capture of
// the veth as exactly those flows: counts, bytes and states. The packets
// written with WritePackets give the same flows when read back as a file,
// and so does an independent capture by tcpdump. It runs with one
// AF_PACKET socket, with fanout 2 (both directions of each connection
// reach the same socket), with fanout 2 and its readers pinned to CPUs,
// and through libpcap in builds that have it.
func TestExactFlowsFromWire(t *testing.T) {
	type variant struct {
		engine string
		fanout int
		pin    bool
	}
	vs := []variant{{EngineAFPacket, 1, false}, {EngineAFPacket, 2, false}, {EngineAFPacket, 2, true}}
	if libpcapBuilt {
		vs = append(vs, variant{EngineLibpcap, 1, false})
	}
	for i, v := range vs {
		name := fmt.Sprintf("%s-fanout%d", v.engine, v.fanout)
		if v.pin {
			name += "-pinned"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var cpus []int
			if v.pin {
				cpus = allowedCPUs(t)
			}
			exactFlows(t, i+1, v.engine, v.fanout, cpus)
		})
	}
}

func exactFlows(t *testing.T, subnet int, engine string, fanout int, cpus []int) {
	p := netns.ServedPair(t, subnet)
	cfg := DefaultConfig(p.IfB)
	cfg.Meter.AutoChecksums = true
	cfg.RingBytes = 4 << 20
	cfg.Engine, cfg.Fanout, cfg.CPUs = engine, fanout, cpus
	written := filepath.Join(t.TempDir(), "written.pcap")
	f, err := os.Create(written)
	if err != nil {
		t.Fatal(err)
	}
	var tcpdump *exec.Cmd
	dumped := filepath.Join(t.TempDir(), "tcpdump.pcap")
	if _, err := exec.LookPath("tcpdump"); err == nil {
		tcpdump = netns.Command(p.B, "tcpdump", "-i", p.IfB, "-w", dumped, "-U", "-n", "--immediate-mode")
		if err := tcpdump.Start(); err != nil {
			t.Fatal(err)
		}
	}
	c, stop := captureIn(t, p, cfg)
	if err := c.WritePackets(f); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // tcpdump's socket
	if err := p.Exchange(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if len(cpus) > 1 {
		assertPinned(t, cpus[:min(fanout, len(cpus))])
	}
	recs := stop()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	var got []wireFlow
	for i := range recs {
		if recs[i].Source != flow.SourceLive {
			t.Errorf("flow source %v, want live", recs[i].Source)
		}
		got = append(got, wireOf(&recs[i]))
	}
	want := []wireFlow{
		{Proto: "icmp", RespP: 0, State: "OTH", OrigPkts: netns.PingCount, OrigBytes: netns.PingCount * netns.PingPayload,
			RespPkts: netns.PingCount, RespBytes: netns.PingCount * netns.PingPayload},
		{Proto: "tcp", RespP: netns.TCPPort, State: "SF", OrigBytes: netns.TCPSent, RespBytes: netns.TCPAnswer},
		{Proto: "tcp", RespP: netns.ClosedPort, State: "REJ", OrigPkts: 1, RespPkts: 1},
		{Proto: "udp", RespP: netns.UDPPort, State: "SF", OrigPkts: netns.UDPCount, OrigBytes: netns.UDPCount * netns.UDPSize,
			RespPkts: 1, RespBytes: netns.UDPAnswer},
	}
	// TCP's packet counts depend on the kernel's acknowledgements: take
	// them from what was captured, checked against tcpdump below.
	for i := range want {
		for _, g := range got {
			if want[i].Proto == "tcp" && g.Proto == "tcp" && g.RespP == want[i].RespP && want[i].State == "SF" {
				want[i].OrigPkts, want[i].RespPkts = g.OrigPkts, g.RespPkts
			}
		}
	}
	sortFlows(got)
	sortFlows(want)
	if !slices.Equal(got, want) {
		t.Errorf("flows from the wire:\n got %v\nwant %v", got, want)
	}
	st := c.Stats().Total()
	t.Logf("stats: %+v; checksums: %s", st, c.Stats().Interfaces[0].Checksums)
	if st.Sockets != fanout {
		t.Errorf("%d sockets, want %d", st.Sockets, fanout)
	}
	if st.RingDrops != 0 || st.KernelDrops != 0 || st.DecodeErrs != 0 {
		t.Errorf("drops: ring %d kernel %d decode %d", st.RingDrops, st.KernelDrops, st.DecodeErrs)
	}
	if st.Flows != uint64(len(want)) {
		t.Errorf("Stats().Flows = %d, want %d", st.Flows, len(want))
	}

	// The same frames, read back from the file WritePackets wrote.
	assertSameFlows(t, "written", written, recs, false)
	if tcpdump != nil {
		_ = tcpdump.Process.Signal(os.Interrupt)
		_ = tcpdump.Wait()
		// Each socket stamps its own copy of a frame: times differ by
		// microseconds, and are not compared.
		assertSameFlows(t, "tcpdump", dumped, recs, true)
	}
}

// assertSameFlows reads a capture file with auto checksums and compares its
// flows, as JSON lines without uid and source, with the live ones.
// The veth's checksums are offloaded, so the file is also a real capture
// "taken where the checksums were not filled in yet": auto must give the
// flows of -C.
func assertSameFlows(t *testing.T, what, path string, live []flow.Record, noTimes bool) {
	t.Helper()
	read := func(cfg pcap.Config) []flow.Record {
		var fromFile []flow.Record
		if _, err := pcap.ReadFiles(context.Background(), []string{path}, cfg, func(r *flow.Record) error {
			fromFile = append(fromFile, *r)
			return nil
		}); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return fromFile
	}
	auto, off := pcap.DefaultConfig(), pcap.DefaultConfig()
	auto.AutoChecksums, off.VerifyChecksums = true, false
	a, b, c := jsonFlows(t, live, noTimes), jsonFlows(t, read(auto), noTimes), jsonFlows(t, read(off), noTimes)
	if !slices.Equal(a, b) {
		t.Errorf("live flows differ from those of the %s file:\nlive %q\nfile %q", what, a, b)
	}
	if !slices.Equal(b, c) {
		t.Errorf("%s file: auto checksums differ from -C:\nauto %q\n-C   %q", what, b, c)
	}
}

func jsonFlows(t *testing.T, recs []flow.Record, noTimes bool) []string {
	var out []string
	for i := range recs {
		r := recs[i]
		r.UID, r.Source = "", flow.SourceUnknown
		if noTimes {
			r.TS, r.Duration = time.Time{}, 0
		}
		var b strings.Builder
		w, err := flow.NewWriter(flow.FormatJSON, &b)
		if err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(w.Write(&r), w.Close()); err != nil {
			t.Fatal(err)
		}
		out = append(out, b.String())
	}
	slices.Sort(out)
	return out
}

func sortFlows(fs []wireFlow) {
	slices.SortFunc(fs, func(a, b wireFlow) int { return strings.Compare(a.String(), b.String()) })
}

// allowedCPUs returns the CPUs the test may pin to.
func allowedCPUs(t *testing.T) []int {
	t.Helper()
	cpus, err := affinity.Allowed()
	if err != nil {
		t.Skip(err)
	}
	return cpus
}

// assertPinned checks that, for each of cpus, some thread of the process
// may run on that CPU only: the pinned readers (with more than one CPU
// allowed, an unpinned thread may run on several).
func assertPinned(t *testing.T, cpus []int) {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil {
		t.Fatal(err)
	}
	pinned := map[string]bool{}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				pinned[strings.TrimSpace(v)] = true
			}
		}
	}
	for _, c := range cpus {
		if !pinned[strconv.Itoa(c)] {
			t.Errorf("no thread is pinned to CPU %d; the threads may run on %v", c, slices.Sorted(maps.Keys(pinned)))
		}
	}
}

func TestValidateCPUs(t *testing.T) {
	cfg := DefaultConfig("eth0")
	cfg.CPUs = []int{9999}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "capture: cpus [9999]: CPU 9999 is not one this process may run on") {
		t.Errorf("Validate with CPU 9999: %v", err)
	}
}
