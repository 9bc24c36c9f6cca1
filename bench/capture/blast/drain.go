//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Drain mode (-drain PID) measures the reader alone on its core, without
// a sender beside it: the kernel fills the reader's ring while the reader
// is stopped, and the reader then reads it empty as fast as it can. On a
// 2-core machine no sender reaches 1 M packets/s into a veth while a core
// is left to the reader (the sender and the veth's receive path, with the
// copy into the ring, share the other core: 0.7-0.77 M/s at most), so
// this is how the reader's own rate is measured end to end: frames read
// from a real AF_PACKET ring, decoded and metered into flows.
//
//  1. wait until the reader is idle (its ring is allocated, it polls);
//  2. SIGSTOP it and send (the frames wait in its ring: size the ring for
//     them, and check that the reader counts no ring drop);
//  3. SIGCONT it, and follow its CPU time (the sum over its threads of
//     /proc/PID/task/*/schedstat) every millisecond until it has been
//     idle for drainIdle: the drain took from SIGCONT to its last busy
//     millisecond.
const (
	drainIdle  = 200 * time.Millisecond // idle this long: the ring is read
	drainTick  = time.Millisecond
	drainBusy  = 200 * time.Microsecond // CPU time in a tick that counts as busy
	readyWait  = 30 * time.Second       // for the reader to become idle before sending
	readyQuiet = 300 * time.Millisecond
)

// cpuTime is the CPU time the threads of process pid have run so far.
func cpuTime(pid int) (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	if len(tasks) == 0 {
		return 0, fmt.Errorf("process %d: no threads in /proc (has it ended?)", pid)
	}
	var sum time.Duration
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // a thread that ended
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", p, err)
		}
		sum += time.Duration(ns)
	}
	return sum, nil
}

// waitIdle waits until process pid has used less than drainBusy of CPU a
// tick for readyQuiet.
func waitIdle(pid int) error {
	last, err := cpuTime(pid)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(readyWait)
	quietSince := time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(10 * drainTick)
		c, err := cpuTime(pid)
		if err != nil {
			return err
		}
		if c-last > 10*drainBusy {
			quietSince = time.Now()
		}
		last = c
		if time.Since(quietSince) >= readyQuiet {
			return nil
		}
	}
	return fmt.Errorf("reader %d still busy after %s", pid, readyWait)
}

// drainResult is how long the reader took to read its ring: wall time
// from SIGCONT to its last busy tick, and its CPU time meanwhile.
type drainResult struct {
	wall, cpu time.Duration
}

// drain continues the stopped reader pid and times it until it is idle.
func drain(pid int) (drainResult, error) {
	c0, err := cpuTime(pid)
	if err != nil {
		return drainResult{}, err
	}
	t0 := time.Now()
	if err := unix.Kill(pid, unix.SIGCONT); err != nil {
		return drainResult{}, fmt.Errorf("SIGCONT %d: %w", pid, err)
	}
	last, lastBusy, cpuAtBusy := c0, t0, c0
	for {
		time.Sleep(drainTick)
		c, err := cpuTime(pid)
		if err != nil {
			return drainResult{}, err
		}
		now := time.Now()
		if c-last > drainBusy {
			lastBusy, cpuAtBusy = now, c
		}
		last = c
		if now.Sub(lastBusy) >= drainIdle {
			return drainResult{wall: lastBusy.Sub(t0), cpu: cpuAtBusy - c0}, nil
		}
	}
}
