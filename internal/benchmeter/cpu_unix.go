//go:build unix

package benchmeter

import (
	"syscall"
	"time"
)

// CPU returns the user+system CPU time of the process so far, 0 when the
// system does not say.
func CPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
