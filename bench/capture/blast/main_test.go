//go:build linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/netns"
)

// rxPackets reads the rx_packets counter of an interface in a namespace.
func rxPackets(t *testing.T, ns, iface string) uint64 {
	t.Helper()
	out, err := netns.Command(ns, "cat", "/sys/class/net/"+iface+"/statistics/rx_packets").Output()
	if err != nil {
		t.Fatalf("rx_packets of %s in %s: %v", iface, ns, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSendsWhatItCounts: at a given rate and at top speed, with sendmmsg
// and with the TX ring, every frame blast counts as sent arrives at the
// other end of the veth, and the paced rate is close to the one asked.
func TestSendsWhatItCounts(t *testing.T) {
	p := netns.NewPair(t, 80)
	if err := p.DisableIPv6(); err != nil { // no router solicitations in the counts
		t.Fatal(err)
	}
	capture := filepath.Join("..", "..", "..", "testdata", "sample.pcap")
	for _, tc := range []struct {
		name string
		cfg  config
	}{
		{"mmsg paced", config{pps: 20000, duration: 500 * time.Millisecond, batch: 64}},
		{"mmsg top speed", config{duration: 200 * time.Millisecond, batch: 256}},
		{"ring top speed", config{duration: 200 * time.Millisecond, batch: 256, ring: true}},
		{"ring through the qdisc", config{duration: 200 * time.Millisecond, batch: 256, ring: true, qdisc: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.iface, cfg.file = p.IfA, capture
			before := rxPackets(t, p.B, p.IfB)
			var res result
			err := netns.Do(p.A, func() error {
				var err error
				res, err = run(context.Background(), cfg)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.sent == 0 {
				t.Fatal("sent nothing")
			}
			// The veth delivers synchronously; give the backlog a moment.
			var got uint64
			for range 50 {
				if got = rxPackets(t, p.B, p.IfB) - before; got >= res.sent {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if got != res.sent {
				t.Errorf("sent %d, the peer received %d", res.sent, got)
			}
			if cfg.pps > 0 {
				rate := float64(res.sent) / res.elapsed.Seconds()
				if rate > cfg.pps*1.1 {
					t.Errorf("paced at %.0f pps, asked %.0f", rate, cfg.pps)
				}
			}
		})
	}
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pcap")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{empty, filepath.Join(dir, "missing.pcap")} {
		if _, _, err := load(name); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("load(%s) = %v, want an error naming the file", name, err)
		}
	}
}
