package app

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Progress draws a one-line progress display (bytes, packets, flows, rate,
// ETA) on a terminal's stderr. It is for people watching a long run, so it
// uses the wall clock; it never touches stdout, which carries only data.
// A nil *Progress is valid and draws nothing: NewProgress returns nil when
// the output is not a terminal.
type Progress struct {
	mu    sync.Mutex
	w     io.Writer
	total int64 // bytes to read in all, 0 when unknown
	start time.Time
	last  time.Time
	drawn bool
}

// NewProgress returns a Progress drawing on f when f is a terminal, else nil.
// total is the number of input bytes expected, 0 when unknown.
func NewProgress(f *os.File, total int64) *Progress {
	if !isTerminal(f) {
		return nil
	}
	now := time.Now()
	return &Progress{w: f, total: total, start: now}
}

// isTerminal asks the terminal driver (golang.org/x/term), not the file
// mode: /dev/null is a character device too, and no one watches it.
func isTerminal(f *os.File) bool {
	return f != nil && term.IsTerminal(int(f.Fd()))
}

// Update redraws the line at most five times a second.
func (p *Progress) Update(bytes int64, packets, flows uint64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	p.drawn = true
	fmt.Fprint(p.w, "\r\033[K"+progressLine(now.Sub(p.start), bytes, p.total, packets, flows))
}

// Done clears the line so that the summary that follows starts clean.
func (p *Progress) Done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// progressLine formats one progress line; split out so tests can check it.
func progressLine(elapsed time.Duration, bytes, total int64, packets, flows uint64) string {
	secs := elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	rate := float64(bytes) / secs / 1e6
	s := fmt.Sprintf("%s packets  %s flows  %.1f MB/s", human(packets), human(flows), rate)
	if total > 0 && bytes > 0 {
		frac := float64(bytes) / float64(total)
		if frac > 1 {
			frac = 1
		}
		eta := time.Duration(secs*(1-frac)/frac) * time.Second
		s = fmt.Sprintf("%5.1f%%  %s  ETA %s", 100*frac, s, eta.Round(time.Second))
	}
	return s
}

// human writes a count with k/M/G suffixes.
func human(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
