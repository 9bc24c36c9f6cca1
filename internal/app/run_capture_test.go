package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/capture"
	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/netns"
)

// liveDaemon runs the daemon with the configuration file conf, its
// run.interfaces opened inside namespace ns, until the returned stop is
// called; stop cancels it, as SIGTERM does, and returns Run's error and
// the daemon's log.
func liveDaemon(t *testing.T, ns, conf string) (stop func() (error, string)) {
	t.Helper()
	cfg, err := config.Load(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	var logBuf syncBuffer
	log := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	d := NewDaemon(cfg, io.Discard, log)
	d.openCapture = func(c capture.Config) (cp *capture.Capture, err error) {
		err = netns.Do(ns, func() error {
			cp, err = capture.Open(c)
			return err
		})
		return cp, err
	}
	go func() { done <- d.Run(ctx) }()
	// the first commit writes the positions once the sockets are open
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(cfg.Run.Positions); err == nil {
			break
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("daemon stopped at start: %v\n%s", err, logBuf.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("daemon not started within 10 s:\n%s", logBuf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var once sync.Once
	var runErr error
	stop = func() (error, string) {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr, logBuf.String()
	}
	t.Cleanup(func() { stop() })
	return stop
}

// liveConfig writes a daemon configuration that captures the interfaces,
// with extra appended under run:.
func liveConfig(t *testing.T, dir string, ifaces []string, extra string) string {
	t.Helper()
	listen := "  metrics_listen: \"\"\n" // off: the default port may be taken
	if strings.Contains(extra, "metrics_listen:") {
		listen = ""
	}
	q := make([]string, len(ifaces))
	for i, n := range ifaces {
		q[i] = strconv.Quote(n)
	}
	y := fmt.Sprintf(`log:
  level: info
capture:
  idle: 300ms
  ring_mb: 4
run:
  interfaces: [%s]
  output: %q
  positions: %q
  poll_interval: 20ms
  commit_interval: 100ms
  stats_interval: 0s
%s%s`, strings.Join(q, ", "), filepath.Join(dir, "out.ndjson"), filepath.Join(dir, "positions.json"), listen, extra)
	p := filepath.Join(dir, "mlads.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunCapturesScans: every one of nmap's scan types, each from a host of
// its own: SYN (-sS), connect (-sT), FIN, NULL, Xmas, ACK, window and
// Maimon (-sF, -sN, -sX, -sA, -sW, -sM), UDP (-sU) and IP protocol (-sO),
// are captured by `mlads run` on the target's interfaces (one per scanner,
// all in one daemon) and become scan alerts about that host in the JSON
// lines, with a model loaded. The daemon is stopped as SIGTERM does, with
// flows still open: they are flushed into the detectors before the output
// is closed.
func TestRunCapturesScans(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces and nmap")
	}
	netns.Skip(t)
	if _, err := exec.LookPath("nmap"); err != nil {
		t.Skip("needs nmap (Debian: apt-get install nmap)")
	}
	scans := [][]string{{"-sS", "-p", "1-200"}, {"-sF", "-p", "1-200"}, {"-sN", "-p", "1-200"}, {"-sX", "-p", "1-200"},
		{"-sA", "-p", "1-200"}, {"-sW", "-p", "1-200"}, {"-sU", "-p", "1-60"},
		{"-sT", "-p", "1-200"}, {"-sM", "-p", "1-200"}, {"-sO", "-p", "1-200"}}
	pairs := netns.NewStar(t, 20, len(scans))
	for _, p := range pairs {
		if err := p.DisableIPv6(); err != nil {
			t.Fatal(err)
		}
	}
	// No ICMP rate limit in the target, so a UDP scan's unreachables all go.
	if out, err := netns.Command(pairs[0].B, "sysctl", "-q", "-w", "net.ipv4.icmp_ratelimit=0").CombinedOutput(); err != nil {
		t.Fatalf("sysctl: %v: %s", err, out)
	}
	// a few open TCP ports and a UDP one on the target
	var lns []io.Closer
	err := netns.Do(pairs[0].B, func() error {
		for _, port := range []int{22, 80, 443} {
			ln, err := net.Listen("tcp4", net.JoinHostPort("0.0.0.0", strconv.Itoa(port)))
			if err != nil {
				return err
			}
			lns = append(lns, ln)
		}
		pc, err := net.ListenPacket("udp4", "0.0.0.0:53")
		lns = append(lns, pc)
		return err
	})
	defer func() {
		for _, c := range lns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	model, _ := trainOffice(t, dir)
	var ifaces []string
	for _, p := range pairs {
		ifaces = append(ifaces, p.IfB)
	}
	esExtra, es := esRunConfig(t)                  // with ES_URL, the alerts go to Elasticsearch too
	flowsOut := filepath.Join(dir, "flows.ndjson") // for the failure report
	extra := fmt.Sprintf("  model: %q\n  observer: live-e2e\n  flows_output: %q\n", model, flowsOut) + fmt.Sprintf(""+
		"detect:\n  behavior:\n    scan_window: 2s\n    sweep_every: 1h\n") + esExtra
	conf := liveConfig(t, dir, ifaces, extra)
	stop := liveDaemon(t, pairs[0].B, conf)

	var wg sync.WaitGroup
	errs := make([]error, len(scans))
	for i, args := range scans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := append([]string{"-n", "-Pn", "--max-retries", "0", "-T4"}, args...)
			a = append(a, pairs[i].AddrB)
			if out, err := netns.Command(pairs[i].A, "nmap", a...).CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("nmap %v: %w: %s", args, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The scan windows are 2 s of packet time here (5 min by default): a
	// later flow of each scanner closes its window, and the finding comes.
	// No sweep: flows come out when they end, so one interface's later
	// flows would move the engine's clock past another scanner's window
	// while some of that window's flows are still open in its flow table.
	// The trigger below goes through the scanner's own interface, whose
	// table emits it after every flow that began before it.
	time.Sleep(2500 * time.Millisecond)
	for _, p := range pairs {
		if err := netns.Do(p.A, func() error {
			c, err := net.Dial("udp4", net.JoinHostPort(p.AddrB, "53"))
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte("later"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	err, log := stop()
	if err != nil {
		t.Fatalf("daemon: %v\n%s", err, log)
	}

	bySource := scanAlertSources(t, filepath.Join(dir, "out.ndjson"))
	for i, p := range pairs {
		if len(bySource[p.AddrA]) == 0 {
			t.Errorf("nmap %s from %s: no scan alert; scan alerts by source: %v; its flows in the order scored:\n%s",
				scans[i][0], p.AddrA, bySource, flowsFrom(t, flowsOut, p.AddrA))
		} else {
			t.Logf("nmap %s from %s: %v", scans[i][0], p.AddrA, bySource[p.AddrA])
		}
	}
	if es != nil {
		ids, _, _ := outDocs(t, filepath.Join(dir, "out.ndjson"))
		indexed := esAlertIDs(t, *es)
		for id := range ids {
			if indexed[id] != 1 {
				t.Errorf("alert %s is in Elasticsearch %d times", id, indexed[id])
			}
		}
	}
	if t.Failed() {
		_, rules, incidents := outDocs(t, filepath.Join(dir, "out.ndjson"))
		t.Logf("alerts by rule %v, %d incidents; daemon log:\n%s", rules, incidents, log)
	}
}

// scanAlertSources reads the daemon's alerts and returns the scan rules
// alerted on, by source address.
func scanAlertSources(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var d struct {
			Rule struct {
				Name string `json:"name"`
			} `json:"rule"`
			Source struct {
				IP string `json:"ip"`
			} `json:"source"`
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if strings.Contains(d.Rule.Name, "scan") {
			out[d.Source.IP] = append(out[d.Source.IP], d.Rule.Name)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRunSIGTERMKeepsFlows: the daemon is stopped (as SIGTERM does) while
// TCP connections go on at full speed; every connection that had ended
// before the stop, whose packets the daemon had therefore seen, is in its
// output, written out before the last commit.
func TestRunSIGTERMKeepsFlows(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces")
	}
	p := netns.ServedPair(t, 40)
	dir := t.TempDir()
	// a free port for the metrics server
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	stop := liveDaemon(t, p.B, liveConfig(t, dir, []string{p.IfB}, fmt.Sprintf("  metrics_listen: %q\n", addr)))

	// Connections one after another until told to stop; the ports of
	// those that ended, and when.
	type conn struct {
		port  int
		ended time.Time
	}
	var (
		mu    sync.Mutex
		conns []conn
		quit  = make(chan struct{})
		done  = make(chan error, 1)
	)
	go func() {
		done <- netns.Do(p.A, func() error {
			for {
				select {
				case <-quit:
					return nil
				default:
				}
				c, err := net.DialTimeout("tcp4", net.JoinHostPort(p.AddrB, strconv.Itoa(netns.TCPPort)), 2*time.Second)
				if err != nil {
					return err
				}
				port := c.LocalAddr().(*net.TCPAddr).Port
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write(make([]byte, netns.TCPSent)); err != nil {
					c.Close()
					return err
				}
				_, err = io.Copy(io.Discard, c)
				c.Close()
				if err != nil {
					return err
				}
				mu.Lock()
				conns = append(conns, conn{port, time.Now()})
				mu.Unlock()
			}
		})
	}()
	// The capture's counters move with the traffic.
	time.Sleep(500 * time.Millisecond)
	c := &http.Client{Timeout: 5 * time.Second}
	first, _ := sample(scrape(t, c, "http://"+addr), "mlads_capture_packets_total", "interface", p.IfB)
	time.Sleep(1000 * time.Millisecond)
	fams := scrape(t, c, "http://"+addr)
	second, _ := sample(fams, "mlads_capture_packets_total", "interface", p.IfB)
	if first <= 0 || second <= first {
		t.Errorf("mlads_capture_packets_total{interface=%q}: %v then %v, want it growing with the traffic", p.IfB, first, second)
	}
	for _, where := range []string{"kernel", "ring"} {
		if v, ok := sample(fams, "mlads_capture_drops_total", "interface", p.IfB, "where", where); !ok || v != 0 {
			t.Errorf("mlads_capture_drops_total{where=%q} = %v (present %v), want 0", where, v, ok)
		}
		if v, ok := sample(fams, "mlads_drops_total", "reason", "capture_"+where); !ok || v != 0 {
			t.Errorf("mlads_drops_total{reason=\"capture_%s\"} = %v (present %v), want 0", where, v, ok)
		}
	}
	t.Logf("mlads_capture_packets_total: %v, then %v a second later", first, second)
	stopped := time.Now()
	runErr, log := stop()
	time.Sleep(100 * time.Millisecond)
	close(quit)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if runErr != nil {
		t.Fatalf("daemon: %v\n%s", runErr, log)
	}

	seen := map[int]bool{}
	b, err := os.ReadFile(filepath.Join(dir, "out.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct {
			OrigP int    `json:"id.orig_p"`
			RespP int    `json:"id.resp_p"`
			State string `json:"conn_state"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		if r.RespP == netns.TCPPort {
			seen[r.OrigP] = true
		}
	}
	var before, lost int
	for _, c := range conns {
		// a connection that ended before the stop was seen by the daemon
		if c.ended.Before(stopped) {
			before++
			if !seen[c.port] {
				lost++
				t.Errorf("connection from port %d, ended %s before the stop, is not in the output",
					c.port, stopped.Sub(c.ended))
			}
		}
	}
	t.Logf("%d connections ended before the stop, %d lost; %d flows in the output", before, lost, len(seen))
	if before < 10 {
		t.Errorf("only %d connections before the stop; the test needs traffic", before)
	}
}

// flowsFrom lists, one per line, the ts, ports and state of the flows from
// addr in a flows file, in their order there.
func flowsFrom(t *testing.T, path, addr string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var out strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		var r struct {
			TS    float64 `json:"ts"`
			OrigH string  `json:"id.orig_h"`
			RespP int     `json:"id.resp_p"`
			Proto string  `json:"proto"`
			State string  `json:"conn_state"`
			Hist  string  `json:"history"`
		}
		if json.Unmarshal([]byte(line), &r) != nil || r.OrigH != addr {
			continue
		}
		fmt.Fprintf(&out, "%.6f %s/%d %s %s\n", r.TS, r.Proto, r.RespP, r.State, r.Hist)
	}
	return out.String()
}
