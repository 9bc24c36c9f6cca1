package notify

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// outbox keeps the notifier's state on disk, in one directory:
//
//   - state.json: the pending messages, the noise control's state
//     (incidents, throttles, held alerts, Slack threads) and the keys of
//     recently delivered messages. Written whole on Flush, to a temporary
//     file that is synced and renamed over the old one, so a crash leaves
//     the old state or the new, never a mix.
//   - sent.log: one JSON line per message delivered (or given up) since
//     state.json was written, synced before the next message is sent.
//     Loading applies it over state.json, so a message delivered just
//     before a crash is not sent again; the next Flush folds it in and
//     empties it.
//
// Only messages that are in state.json are ever sent. A crash can lose
// what was written after the last Flush, but the daemon hands those
// alerts again, and they make the same messages under the same keys.
// One window remains, as in any notifier: a message delivered and the
// process killed before its sent.log line is synced is sent again.
type outbox struct {
	dir  string
	sent *os.File
}

// sentLine is one line of sent.log.
type sentLine struct {
	Key    string    `json:"key"`
	At     time.Time `json:"at"`
	Thread string    `json:"thread,omitempty"` // threadKey, for a message that opened a Slack thread
	TS     string    `json:"ts,omitempty"`
	Failed bool      `json:"failed,omitempty"`
}

const (
	stateFile = "state.json"
	sentFile  = "sent.log"
)

// openOutbox opens (creating) dir and returns the state it holds, with
// sent.log applied; a fresh state when there is none.
func openOutbox(dir string) (*outbox, *state, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("outbox: %w", err)
	}
	st := newState()
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, nil, fmt.Errorf("outbox: %w", err)
	default:
		if err := json.Unmarshal(b, st); err != nil {
			return nil, nil, fmt.Errorf("outbox: %s: %w", filepath.Join(dir, stateFile), err)
		}
		st.fill()
	}
	f, err := os.OpenFile(filepath.Join(dir, sentFile), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("outbox: %w", err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l sentLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue // a line torn by a crash: its message was not confirmed
		}
		st.applySent(l)
	}
	if err := sc.Err(); err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("outbox: %s: %w", sentFile, err)
	}
	for _, m := range st.Pending {
		m.durable = true
	}
	return &outbox{dir: dir, sent: f}, st, nil
}

// save writes st whole and, once it is safely renamed into place,
// empties sent.log, whose lines st now holds.
func (o *outbox) save(st *state) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	tmp := filepath.Join(o.dir, stateFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("outbox: %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(o.dir, stateFile)); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if err := syncDir(o.dir); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if err := o.sent.Truncate(0); err != nil {
		return fmt.Errorf("outbox: %s: %w", sentFile, err)
	}
	return nil
}

// markSent appends l to sent.log and syncs it.
func (o *outbox) markSent(l sentLine) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if _, err := o.sent.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("outbox: %s: %w", sentFile, err)
	}
	if err := o.sent.Sync(); err != nil {
		return fmt.Errorf("outbox: %s: %w", sentFile, err)
	}
	return nil
}

func (o *outbox) close() error { return o.sent.Close() }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	return errors.Join(serr, d.Close())
}
