package tail

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlads/mlads/internal/benchmeter"
)

// benchFile writes n conn.log-sized lines (about 130 bytes) once per
// benchmark run.
func benchFile(b *testing.B, n int) (path string, size int64) {
	b.Helper()
	path = filepath.Join(b.TempDir(), "conn.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range n {
		fmt.Fprintf(w, "1764086400.%06d\tC%017d\t10.0.0.%d\t%d\t192.168.1.1\t443\ttcp\tssl\t1.5\t100\t200\tSF\tT\tF\t0\tShADadFf\t10\t600\t12\t900\t-\n",
			i%1000000, i, i&255, 1024+i%60000)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	f.Close()
	return path, fi.Size()
}

const benchLines = 200_000

// countSink counts lines and bytes, as the cheapest possible consumer.
type countSink struct{ lines, bytes int64 }

func (c *countSink) Line(l *Line) error {
	c.lines++
	c.bytes += int64(len(l.Bytes))
	return nil
}
func (c *countSink) Commit() ([]byte, error) { return nil, nil }

// BenchmarkFollow compares following a file with a Tailer against reading
// it in one go with bufio.Scanner, on the same file in one run:
//
//   - batch: bufio.Scanner over the file, the baseline;
//   - tail: Tailer.Run until every line is delivered, no positions file;
//   - tail+positions: the same with a positions file (committed, with
//     fsync, at the start and the end).
//
// Besides wall-clock lines/s it reports lines/cpu-s (lines per second of
// process CPU time), which a busy shared machine disturbs less.
func BenchmarkFollow(b *testing.B) {
	path, size := benchFile(b, benchLines)
	b.Run("batch", func(b *testing.B) {
		benchmeter.Repeat(b, size, benchLines, "lines", func() int64 {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 256<<10), 1<<20)
			var c countSink
			for sc.Scan() {
				c.lines++
				c.bytes += int64(len(sc.Bytes()))
			}
			if err := sc.Err(); err != nil {
				b.Fatal(err)
			}
			return c.lines
		})
	})
	for _, withPositions := range []bool{false, true} {
		name := "tail"
		if withPositions {
			name = "tail+positions"
		}
		b.Run(name, func(b *testing.B) {
			benchmeter.Repeat(b, size, benchLines, "lines", func() int64 {
				c := &countSink{}
				var pos string
				if withPositions {
					pos = filepath.Join(b.TempDir(), "positions.json")
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				t, err := New(Config{Inputs: []string{path}, Positions: pos},
					func([]byte) (Sink, error) { return stopSink{c, cancel}, nil })
				if err != nil {
					b.Fatal(err)
				}
				if err := t.Run(ctx); err != nil {
					b.Fatal(err)
				}
				return c.lines
			})
		})
	}
}

// stopSink cancels the tailer once it has every line.
type stopSink struct {
	*countSink
	cancel context.CancelFunc
}

func (s stopSink) Line(l *Line) error {
	s.countSink.Line(l)
	if s.lines == benchLines {
		s.cancel()
	}
	return nil
}
