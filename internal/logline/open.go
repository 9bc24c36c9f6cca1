package logline

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/mlads/mlads/internal/gunzip"
)

// Open opens path for reading, decompressing it when it starts with the gzip
// magic. The caller closes the returned reader.
func Open(path string) (io.ReadCloser, error) { return OpenCounting(path, nil) }

// OpenCounting is Open that also adds the number of bytes read from the
// file (before decompression) to *n as reading goes, for progress reports.
// n may be nil. Only the reading goroutine updates *n.
func OpenCounting(path string, n *int64) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var raw io.Reader = f
	if n != nil {
		raw = &countingReader{r: f, n: n}
	}
	br := bufio.NewReaderSize(raw, 256<<10)
	zr, err := gunzip.Sniff(br)
	if err != nil {
		_ = f.Close() // the gzip error is the one to report
		return nil, fmt.Errorf("%s: gzip: %w", path, err)
	}
	if zr != nil {
		return &readCloser{Reader: bufio.NewReaderSize(zr, 256<<10), close: func() error {
			_ = zr.Close() // only reports a checksum error already seen by Read
			return f.Close()
		}}, nil
	}
	return &readCloser{Reader: br, close: f.Close}, nil
}

type countingReader struct {
	r io.Reader
	n *int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	*c.n += int64(k)
	return k, err
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }
