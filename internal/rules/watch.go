package rules

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Watcher keeps the rules of some paths current: Rules loads them again
// when a file changed, came or went (looked at most once per Every). A
// set that fails to load is refused: OnError hears why, once per change,
// and the last good set stays in force.
type Watcher struct {
	Paths []string
	// Every is how often the files are looked at; one second when zero.
	Every time.Duration
	// OnError, when set, hears of a refused set.
	OnError func(error)
	// Clock is the wall clock (time.Now when nil).
	Clock func() time.Time

	mu    sync.Mutex
	set   *Set
	sig   string
	next  time.Time
	loads int
}

// NewWatcher returns a Watcher of paths holding set, which was loaded
// from them.
func NewWatcher(set *Set, paths []string, onError func(error)) *Watcher {
	w := &Watcher{Paths: paths, OnError: onError, set: set}
	w.sig, _ = signature(paths)
	return w
}

// Rules returns the current set, loading the files again when they
// changed.
func (w *Watcher) Rules() *Set {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if w.Clock != nil {
		now = w.Clock()
	}
	if now.Before(w.next) {
		return w.set
	}
	every := w.Every
	if every <= 0 {
		every = time.Second
	}
	w.next = now.Add(every)
	sig, err := signature(w.Paths)
	if err == nil && sig == w.sig {
		return w.set
	}
	w.sig = sig // a refused set is reported once, not at every look
	if err == nil {
		var s *Set
		if s, err = Load(w.Paths...); err == nil {
			w.set = s
			w.loads++
			return w.set
		}
	}
	if w.OnError != nil {
		w.OnError(fmt.Errorf("rules refused, the last good ones stay in force: %w", err))
	}
	return w.set
}

// Reload makes the next Rules look at the files now, and sets the paths
// it watches (the daemon's SIGHUP, with rules.paths read again).
func (w *Watcher) Reload(paths []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.Paths, w.next = paths, time.Time{}
}

// Loads counts the sets loaded since the watcher was made.
func (w *Watcher) Loads() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.loads
}

// signature names the files of paths with their sizes and modification
// times.
func signature(paths []string) (string, error) {
	files, err := Files(paths...)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("rules: %w", err)
		}
		fmt.Fprintf(&b, "%s\x00%d\x00%d\x00", f, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}
