package alert

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// JSONLines is the Sink that writes each document as one JSON line: the
// embedded default output, to stdout or a file. Flush flushes its buffer
// and then calls sync, when there is one (a file's Sync).
type JSONLines struct {
	w    *bufio.Writer
	sync func() error
	name string // for errors: the file's path or "stdout"
	// chunks are the buffers of a large batch's encoding, kept for the next
	chunks []encodedChunk
}

// NewJSONLines returns the sink writing to w; name says where w goes, for
// errors, and sync (nil for none) makes what was written durable.
func NewJSONLines(w io.Writer, name string, sync func() error) *JSONLines {
	return &JSONLines{w: bufio.NewWriterSize(w, 256<<10), sync: sync, name: name}
}

// Write encodes docs. A failed write is not retried: a local file that
// refuses a write (a full disk) needs a person. A large batch (a batch
// Fold's incidents at its Flush) is encoded on every core, a round of
// encodeRound documents at a time, and written in order: the same bytes.
func (j *JSONLines) Write(_ context.Context, docs []*Alert) (bool, error) {
	workers := min(runtime.GOMAXPROCS(0), encodeRound/encodeChunk)
	if workers < 2 || len(docs) < encodeRound {
		return false, j.write(docs)
	}
	if j.chunks == nil {
		j.chunks = make([]encodedChunk, encodeRound/encodeChunk)
	}
	chunks := j.chunks
	for len(docs) > 0 {
		round := docs[:min(len(docs), encodeRound)]
		docs = docs[len(round):]
		n := (len(round) + encodeChunk - 1) / encodeChunk
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for k := w; k < n; k += workers {
					chunks[k].encode(round[k*encodeChunk : min((k+1)*encodeChunk, len(round))])
				}
			})
		}
		wg.Wait()
		for k := range n {
			if _, err := j.w.Write(chunks[k].b); err != nil {
				return false, fmt.Errorf("alerts to %s: %w", j.name, err)
			}
			if chunks[k].err != nil {
				return false, fmt.Errorf("alerts to %s: %w", j.name, chunks[k].err)
			}
		}
	}
	return false, nil
}

// encodeChunk documents are encoded by one goroutine at a time,
// encodeRound between writes.
const encodeChunk, encodeRound = 128, 2048

// encodedChunk is the JSON lines of a run of documents, up to the first
// that failed to encode.
type encodedChunk struct {
	b   []byte
	err error
}

func (c *encodedChunk) encode(docs []*Alert) {
	c.b, c.err = c.b[:0], nil
	for _, a := range docs {
		b, err := Encode(a)
		if err != nil {
			c.err = err
			return
		}
		c.b = append(append(c.b, b...), '\n')
	}
}

func (j *JSONLines) write(docs []*Alert) error {
	for _, a := range docs {
		b, err := Encode(a)
		if err != nil {
			return fmt.Errorf("alerts to %s: %w", j.name, err)
		}
		j.w.Write(b) //nolint:errcheck // bufio keeps the error: WriteByte returns it
		if err := j.w.WriteByte('\n'); err != nil {
			return fmt.Errorf("alerts to %s: %w", j.name, err)
		}
	}
	return nil
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
