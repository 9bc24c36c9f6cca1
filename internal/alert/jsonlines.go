package alert

import (
	"bufio"
	"context"
	"fmt"
	"io"
)

// JSONLines is the Sink that writes each document as one JSON line: the
// embedded default output, to stdout or a file. Flush flushes its buffer
// and then calls sync, when there is one (a file's Sync).
type JSONLines struct {
	w    *bufio.Writer
	sync func() error
	name string // for errors: the file's path or "stdout"
}

// NewJSONLines returns the sink writing to w; name says where w goes, for
// errors, and sync (nil for none) makes what was written durable.
func NewJSONLines(w io.Writer, name string, sync func() error) *JSONLines {
	return &JSONLines{w: bufio.NewWriterSize(w, 256<<10), sync: sync, name: name}
}

// Write encodes docs. A failed write is not retried: a local file that
// refuses a write (a full disk) needs a person.
func (j *JSONLines) Write(_ context.Context, docs []*Alert) (bool, error) {
	for _, a := range docs {
		b, err := Encode(a)
		if err != nil {
			return false, fmt.Errorf("alerts to %s: %w", j.name, err)
		}
		b = append(b, '\n')
		if _, err := j.w.Write(b); err != nil {
			return false, fmt.Errorf("alerts to %s: %w", j.name, err)
		}
	}
	return false, nil
}

// Flush writes out the buffer and syncs the file.
func (j *JSONLines) Flush(context.Context) (bool, error) {
	if err := j.w.Flush(); err != nil {
		return false, fmt.Errorf("alerts to %s: %w", j.name, err)
	}
	if j.sync != nil {
		if err := j.sync(); err != nil {
			return false, fmt.Errorf("alerts to %s: sync: %w", j.name, err)
		}
	}
	return false, nil
}
