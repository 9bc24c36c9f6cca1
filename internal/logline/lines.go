package logline

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
)

// MaxLineBytes is the longest line the readers accept; a longer one is
// counted as a bad line of kind KindTooLong and skipped. Real conn.log lines
// are a few hundred bytes.
const MaxLineBytes = 1 << 20

// ctxCheckEvery is how many lines EachLine reads between context checks.
const ctxCheckEvery = 4096

// LineFunc is called for each line read by EachLine, without its newline.
// The slice is valid only during the call. tooLong is set, and line holds
// the line's first MaxLineBytes, for a line longer than the limit.
type LineFunc func(line []byte, tooLong bool) error

// EachLine reads r line by line, calling fn for each; a last line without a
// newline is read too.
func EachLine(ctx context.Context, r io.Reader, fn LineFunc) error {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 256<<10)
	}
	var long []byte
	var n int
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it up to the limit.
			if long == nil {
				long = make([]byte, 0, 2*len(line))
			}
			if len(long) < MaxLineBytes {
				long = append(long, line[:min(len(line), MaxLineBytes-len(long))]...)
			}
			continue
		}
		if long != nil {
			tooLong := len(long)+len(line) > MaxLineBytes
			if !tooLong {
				long = append(long, line...)
			}
			line = bytes.TrimSuffix(long, []byte("\n"))
			if ferr := fn(line, tooLong); ferr != nil {
				return ferr
			}
			long = nil
		} else if len(line) > 0 {
			if ferr := fn(bytes.TrimSuffix(line, []byte("\n")), false); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if n++; n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
}

// EmitError carries an error returned by a reader's emit callback out
// through EachLine, so that the reader can tell it from a read error and
// return it to its caller as it was (find it with errors.As).
type EmitError struct{ Err error }

// Error returns the emit callback's error message.
func (e EmitError) Error() string { return e.Err.Error() }

// ReadOptions are the optional settings of the readers' ReadFileWith.
type ReadOptions struct {
	// Progress, when set, is called with the number of bytes read so far
	// (from the files, before decompression; summed over a folder's files)
	// about every ProgressLines lines and at the end of each file. It runs
	// on the reading goroutine: keep it short.
	Progress func(bytesRead int64)
}

// ProgressLines is how many lines pass between ReadOptions.Progress calls.
const ProgressLines = 1 << 16
