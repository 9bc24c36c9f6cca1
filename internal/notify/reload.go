package notify

import (
	"fmt"
	"os"
	"time"
)

// fileStamp tells whether a file changed: its size and modification time.
type fileStamp struct {
	size int64
	mod  time.Time
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.Size(), fi.ModTime()}, nil
}

// Reload loads the contacts file again when it changed since it was last
// loaded (Contacts.Path). A file that fails to load is refused with its
// error and the last good one stays in force; it is tried again only when
// it changes again. It reports whether new contacts took effect.
//
// Routes are remembered by position: a throttle or digest waiting on a
// route that is gone continues on the default route.
func (n *Notifier) Reload(getenv func(string) (string, bool)) (bool, error) {
	n.mu.Lock()
	path, last := n.c.Path, n.stamp
	n.mu.Unlock()
	if path == "" {
		return false, nil
	}
	st, err := stampOf(path)
	if err != nil {
		return false, fmt.Errorf("contacts: reload: %w", err)
	}
	if st == last {
		return false, nil
	}
	n.mu.Lock()
	n.stamp = st // a bad file is reported once, not at every look
	n.mu.Unlock()
	c, err := Load(path, getenv)
	if err != nil {
		return false, err
	}
	send, err := NewSenders(c)
	if err != nil {
		return false, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.c, n.send, n.red = c, send, redactor(c.secrets())
	return true, nil
}
