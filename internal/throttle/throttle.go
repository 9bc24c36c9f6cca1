// Package throttle keeps a repeated warning from flooding the log: a
// Counter lets one occurrence through at most once per interval and counts
// the others, so that the next warning can say how many there were
// (STYLE.md #7: bound everything, count what you drop, warn throttled).
package throttle

import "time"

// Counter counts the occurrences of one event and says when one is due to
// be reported. The zero value reports every occurrence; set Interval first.
// A Counter is not safe for concurrent use.
type Counter struct {
	// Interval is the least time between two reported occurrences.
	Interval time.Duration

	last time.Time // when the last reported occurrence happened
	n    int64     // occurrences since then, not reported
}

// Due counts one occurrence at now and reports whether it is due to be
// reported: the first one is, and after it the first one at least Interval
// after the last reported. n is the number of occurrences since the last
// reported one, this one included; a reported occurrence starts the count
// again. now is an input, so that tests and replays decide the time.
func (c *Counter) Due(now time.Time) (n int64, due bool) {
	c.n++
	if !c.last.IsZero() && now.Sub(c.last) < c.Interval {
		return c.n, false
	}
	n, c.n, c.last = c.n, 0, now
	return n, true
}
