package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/netns"
)

// TestCaptureCommand: `mlads capture -i IFACE --for 2s` on the veth of a
// namespace pair writes exactly the flows exchanged over it, as JSON lines,
// and a summary naming the interface with its drops.
func TestCaptureCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces")
	}
	p := netns.ServedPair(t, 60)
	var out, status bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- netns.Do(p.B, func() error {
			root := newRoot()
			root.SetArgs([]string{"capture", "-i", p.IfB, "--for", "2s", "--filter", "ip"})
			root.SetOut(&out)
			root.SetErr(&status)
			return root.Execute()
		})
	}()
	time.Sleep(500 * time.Millisecond)
	if err := p.Exchange(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("mlads capture: %v\n%s", err, status.String())
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r struct {
			Proto  string `json:"proto"`
			RespP  int    `json:"id.resp_p"`
			State  string `json:"conn_state"`
			Source string `json:"source"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		got = append(got, strings.Join([]string{r.Proto, r.State, r.Source}, " ")+" "+strconv.Itoa(r.RespP))
	}
	slices.Sort(got)
	want := []string{"icmp OTH live 0", "tcp REJ live 9", "tcp SF live 8080", "udp SF live 5353"}
	if !slices.Equal(got, want) {
		t.Errorf("flows %q, want %q\nstatus:\n%s", got, want, status.String())
	}
	if !strings.Contains(status.String(), "mlads: "+p.IfB+" (afpacket, 1 sockets)") ||
		!strings.Contains(status.String(), "dropped: kernel 0, ring 0") {
		t.Errorf("summary:\n%s", status.String())
	}
}
