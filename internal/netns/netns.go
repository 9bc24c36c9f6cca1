// Package netns builds small networks for tests: two network namespaces
// joined by a veth pair, created with iproute2 and removed when the test
// ends. Code can run inside either namespace on a locked OS thread (Do), so
// a test can open sockets there without any other tool. For tests only:
// it needs root and the ip command, and skips the test without them.
package netns

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Pair is two namespaces, A and B, joined by a veth pair with the
// addresses AddrA and AddrB (a /24 of their own).
type Pair struct {
	A, B         string // namespace names
	IfA, IfB     string // the veth ends in A and in B
	AddrA, AddrB string
}

// Skip skips t unless it runs as root with the ip command.
func Skip(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2)")
	}
}

// NewPair creates the namespaces and the veth pair, with unique names so
// that tests can run in parallel, and removes them when t ends. subnet is
// the third octet of the 10.77.x.0/24 the pair is given. The veths keep
// checksum offloading on, as veths have by default: captures on them carry
// the checksums the kernel left unfilled.
func NewPair(t testing.TB, subnet int) *Pair {
	t.Helper()
	return NewStar(t, subnet, 1)[0]
}

// NewStar creates one namespace B joined to n namespaces A by a veth each:
// pair i has the subnet 10.77.(subnet+i).0/24, A at .1 and B at .2. All
// pairs share B; everything is removed when t ends.
func NewStar(t testing.TB, subnet, n int) []*Pair {
	t.Helper()
	Skip(t)
	id := func() string {
		var b [3]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}
	b := "mlads-b-" + id()
	var ps []*Pair
	t.Cleanup(func() {
		for _, p := range ps {
			_ = exec.Command("ip", "netns", "del", p.A).Run()
		}
		_ = exec.Command("ip", "netns", "del", b).Run()
	})
	if out, err := exec.Command("ip", "netns", "add", b).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", b, err, out)
	}
	if out, err := exec.Command("ip", "-n", b, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link set lo up: %v: %s", b, err, out)
	}
	for i := range n {
		x := id()
		p := &Pair{
			A: "mlads-a-" + x, B: b, IfA: "mla" + x, IfB: "mlb" + x,
			AddrA: fmt.Sprintf("10.77.%d.1", subnet+i), AddrB: fmt.Sprintf("10.77.%d.2", subnet+i),
		}
		ps = append(ps, p)
		for _, args := range [][]string{
			{"netns", "add", p.A},
			{"link", "add", p.IfA, "netns", p.A, "type", "veth", "peer", "name", p.IfB, "netns", p.B},
			{"-n", p.A, "addr", "add", p.AddrA + "/24", "dev", p.IfA},
			{"-n", p.B, "addr", "add", p.AddrB + "/24", "dev", p.IfB},
			{"-n", p.A, "link", "set", "lo", "up"},
			{"-n", p.A, "link", "set", p.IfA, "up"},
			{"-n", p.B, "link", "set", p.IfB, "up"},
		} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
			}
		}
	}
	return ps
}

// Do runs fn inside namespace ns, on an OS thread locked for the call, and
// returns the thread to the test's namespace after. Sockets opened by fn
// stay in ns.
func Do(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// A thread whose namespace could not be restored is not unlocked:
		// the runtime then ends it with the goroutine.
		runtime.LockOSThread()
		self, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
		if err != nil {
			errc <- fmt.Errorf("netns: own namespace: %w", err)
			return
		}
		defer func() { _ = self.Close() }()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- fmt.Errorf("netns: %w", err)
			return
		}
		defer func() { _ = target.Close() }()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("netns: enter %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("netns: leave %s: %w", ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Command returns cmd to be run inside namespace ns (ip netns exec).
func Command(ns, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}
