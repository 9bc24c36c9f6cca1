// Package gunzip tells gzip-compressed input by its magic number, not its
// name, so that every reader (captures, Zeek logs, EVE files, format
// detection) accepts a compressed file the same way.
package gunzip

import (
	"bufio"
	"compress/gzip"
)

// Sniff peeks at br's next two bytes. When they are gzip's magic number
// (1f 8b) it returns a gzip.Reader over br, and the error of reading the
// gzip header if that fails; otherwise nil and no error. It only peeks, so
// br keeps every byte for the caller when the input is not compressed. The
// caller closes the gzip.Reader, which only checks the checksum.
func Sniff(br *bufio.Reader) (*gzip.Reader, error) {
	if magic, _ := br.Peek(2); len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		return nil, nil
	}
	return gzip.NewReader(br)
}
