// Package affinity pins a goroutine's OS thread to one CPU.
//
// A capture with fanout runs one reader per AF_PACKET socket, each on a
// goroutine of its own, so that each socket has a core to itself. Go's
// scheduler and the kernel's do not promise that: a reader woken on the
// core that woke it may stay there, and two readers then share one core
// while another sits idle (bench/capture measured both fanout-2 readers on
// CPU 1 for a whole drain). Pin ties the calling goroutine to its thread
// (runtime.LockOSThread) and that thread to one CPU (sched_setaffinity), so
// each reader owns its core. Check validates a list of CPUs before any
// thread is pinned, so that a CPU the machine lacks, or one the process is
// not allowed (taskset, cgroup cpusets), is a configuration error and not a
// failure at run time.
//
// Pinning is Linux only; elsewhere Pin and Check return ErrUnsupported.
package affinity

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrUnsupported is returned where threads cannot be pinned (not Linux).
var ErrUnsupported = errors.New("affinity: pinning threads to CPUs needs Linux")

// maxCPU bounds the CPU numbers accepted: the size of the kernel's
// cpu_set_t as golang.org/x/sys/unix sees it.
const maxCPU = 1024

// Check returns an error naming every CPU of cpus that is negative, listed
// twice, or not in the set the process may run on. It returns nil for an
// empty list (no pinning).
func Check(cpus []int) error {
	if len(cpus) == 0 {
		return nil
	}
	allowed, err := Allowed()
	if err != nil {
		return err
	}
	ok := map[int]bool{}
	for _, c := range allowed {
		ok[c] = true
	}
	var errs []error
	seen := map[int]bool{}
	for _, c := range cpus {
		switch {
		case c < 0:
			errs = append(errs, fmt.Errorf("CPU %d must not be negative", c))
		case seen[c]:
			errs = append(errs, fmt.Errorf("CPU %d is listed twice", c))
		case !ok[c]:
			errs = append(errs, fmt.Errorf("CPU %d is not one this process may run on (allowed: %s)", c, List(allowed)))
		}
		seen[c] = true
	}
	return errors.Join(errs...)
}

// List formats CPU numbers as the kernel does in cpuset files: "0-3,6".
// cpus must be sorted.
func List(cpus []int) string {
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}
