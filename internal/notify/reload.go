package notify

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mlads/mlads/internal/rules"
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

// ReloadRules loads the rule files again when any of them changed (or
// one came or went). A set that fails to load is refused with its error
// and the last good one stays in force. It reports whether new rules took
// effect.
func (n *Notifier) ReloadRules() (bool, error) {
	if len(n.opt.RulePaths) == 0 {
		return false, nil
	}
	files, err := rules.Files(n.opt.RulePaths...)
	if err != nil {
		return false, err
	}
	var sig strings.Builder
	for _, f := range files {
		st, err := stampOf(f)
		if err != nil {
			return false, fmt.Errorf("rules: reload: %w", err)
		}
		fmt.Fprintf(&sig, "%s\x00%d\x00%d\x00", f, st.size, st.mod.UnixNano())
	}
	n.mu.Lock()
	same := sig.String() == n.rulesSig
	n.rulesSig = sig.String()
	n.mu.Unlock()
	if same {
		return false, nil
	}
	rs, err := rules.Load(n.opt.RulePaths...)
	if err != nil {
		return false, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.opt.Rules = rs
	return true, nil
}
