//go:build linux

package main

import (
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDrainTimesTheBusySpell: a stopped process that, once continued,
// is busy for a while and then idles is timed from SIGCONT to the end of
// its busy spell, in wall time and in CPU time; the idle tail is not
// counted.
func TestDrainTimesTheBusySpell(t *testing.T) {
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exec sleep 30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	if err := unix.Kill(pid, unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	res, err := drain(pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("busy spell: %s of wall time, %s of CPU time; drain returned after %s", res.wall, res.cpu, time.Since(t0))
	if res.cpu <= 10*time.Millisecond || res.wall < res.cpu/2 || res.wall > 20*time.Second {
		t.Errorf("wall %s, CPU %s: want a busy spell of more than 10 ms, timed", res.wall, res.cpu)
	}
	if _, err := cpuTime(1 << 30); err == nil {
		t.Error("cpuTime of a process that does not exist: no error")
	}
}
