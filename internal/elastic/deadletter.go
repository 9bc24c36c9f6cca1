package elastic

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// deadLetter appends the documents the cluster refused for good to a
// JSON-lines file, one object per document with the reason and the
// document itself, so they can be fixed and sent again by hand.
type deadLetter struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// deadLine is one line of the dead-letter file.
type deadLine struct {
	Time   time.Time       `json:"time"`
	Index  string          `json:"index"`
	ID     string          `json:"id"`
	Op     string          `json:"op"`
	Status int             `json:"status,omitempty"`
	Type   string          `json:"type,omitempty"`
	Reason string          `json:"reason"`
	Doc    json.RawMessage `json:"doc,omitempty"`
}

// deadLetter records e as refused; errors writing the file are logged and
// counted with it, since the document cannot go anywhere else.
func (s *Sink) deadLetter(e *entry, status int, typ, reason string) {
	s.st.deadLetters.Add(1)
	l := deadLine{Time: s.o.Now().UTC(), Index: e.Index, ID: e.ID, Op: e.Op, Status: status, Type: typ, Reason: reason}
	if json.Valid(e.Doc) {
		l.Doc = e.Doc
	}
	if err := s.dead.write(&l); err != nil {
		s.log.Error("dead-letter file", "err", err, "id", e.ID)
	}
	s.log.Warn("document refused for good; written to the dead-letter file",
		"id", e.ID, "status", status, "type", typ, "reason", reason, "file", s.dead.path, "total", s.st.deadLetters.Load())
}

func (d *deadLetter) write(l *deadLine) error {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("dead letter: %w", err)
		}
		d.f = f
	}
	if _, err := d.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	return nil
}

func (d *deadLetter) sync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	return nil
}

func (d *deadLetter) close() error {
	err := d.sync()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f != nil {
		if cerr := d.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("dead letter %s: %w", d.path, cerr)
		}
		d.f = nil
	}
	return err
}
