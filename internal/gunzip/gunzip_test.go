package gunzip_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"testing"

	"github.com/mlads/mlads/internal/gunzip"
)

func TestSniff(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("hello\n"))
	zw.Close()
	tests := []struct {
		name    string
		in      []byte
		want    string
		gzipped bool
		err     bool
	}{
		{"plain", []byte("hello\n"), "hello\n", false, false},
		{"empty", nil, "", false, false},
		{"one byte", []byte{0x1f}, "\x1f", false, false},
		{"gzip", gz.Bytes(), "hello\n", true, false},
		{"gzip magic, broken header", []byte{0x1f, 0x8b, 0x00}, "", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReader(bytes.NewReader(tc.in))
			zr, err := gunzip.Sniff(br)
			if (err != nil) != tc.err {
				t.Fatalf("err %v, want error %v", err, tc.err)
			}
			if tc.err {
				return
			}
			if (zr != nil) != tc.gzipped {
				t.Fatalf("gzip reader %v, want one: %v", zr != nil, tc.gzipped)
			}
			var r io.Reader = br
			if zr != nil {
				r = zr
			}
			got, err := io.ReadAll(r)
			if err != nil || string(got) != tc.want {
				t.Errorf("read %q %v, want %q", got, err, tc.want)
			}
		})
	}
}
