//go:build !unix

package benchmeter

import "time"

// CPU returns 0: this system's process CPU time is not read.
func CPU() time.Duration { return 0 }
