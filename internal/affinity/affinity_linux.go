//go:build linux

package affinity

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Pin locks the calling goroutine to its OS thread and lets that thread run
// on cpu only. undo, called from the same goroutine, gives the thread back
// its former CPUs and unlocks it. If that restore fails, undo leaves the
// thread locked, so the runtime ends the thread with the goroutine instead
// of handing a pinned thread to other goroutines.
func Pin(cpu int) (undo func(), err error) {
	if cpu < 0 || cpu >= maxCPU {
		return nil, fmt.Errorf("affinity: CPU %d must be in [0, %d)", cpu, maxCPU)
	}
	runtime.LockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("affinity: reading the thread's CPUs: %w", err)
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("affinity: pinning the thread to CPU %d: %w", cpu, err)
	}
	return func() {
		if unix.SchedSetaffinity(0, &old) == nil {
			runtime.UnlockOSThread()
		}
	}, nil
}

// Current returns the CPUs the calling thread may run on, sorted. Call it
// from a goroutine locked to its thread (after Pin) for a stable answer.
func Current() ([]int, error) {
	return cpusOf(0)
}

// Allowed returns the CPUs the process may run on (those of its main
// thread, which taskset and cgroup cpusets set), sorted.
func Allowed() ([]int, error) {
	return cpusOf(os.Getpid())
}

func cpusOf(tid int) ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(tid, &set); err != nil {
		return nil, fmt.Errorf("affinity: reading the allowed CPUs: %w", err)
	}
	var cpus []int
	for c := 0; c < maxCPU; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}
