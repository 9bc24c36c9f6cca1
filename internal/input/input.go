// Package input reads any file mlads accepts into flow.Records, choosing the
// reader from the file's content, never its name: pcap and pcapng captures
// (internal/pcap), Zeek conn logs in TSV, CSV or JSON and Zeek log folders
// (internal/zeek), and Suricata EVE JSON (internal/eve), each plain or
// gzip-compressed.
package input

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mlads/mlads/internal/eve"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/gunzip"
	"github.com/mlads/mlads/internal/jscan"
	"github.com/mlads/mlads/internal/logline"
	"github.com/mlads/mlads/internal/pcap"
	"github.com/mlads/mlads/internal/zeek"
)

// Format is the kind of input a file holds.
type Format uint8

// The formats Detect recognises.
const (
	Unknown  Format = iota
	Pcap            // classic libpcap capture (any byte order, µs or ns)
	Pcapng          // pcapng capture
	ZeekTSV         // Zeek conn.log TSV (also header-row TSV and the IoT-23 CSV)
	ZeekJSON        // Zeek conn.log JSON lines
	ZeekDir         // a Zeek log folder (conn.log and rotated conn.*.log[.gz])
	EVE             // Suricata EVE JSON lines
)

var formatNames = [...]string{"unknown", "pcap", "pcapng", "zeek-tsv", "zeek-json", "zeek-dir", "eve"}

// String returns the format's name.
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "unknown"
}

// IsCapture reports whether f is a packet capture (read by internal/pcap).
func (f Format) IsCapture() bool { return f == Pcap || f == Pcapng }

// ErrUnknownFormat is wrapped by Detect's error for content it does not
// recognise.
var ErrUnknownFormat = errors.New("unrecognised format")

// peekBytes is how much of a file Detect looks at (after decompression).
const peekBytes = 64 << 10

// Detect tells the format of path from its content: capture magic numbers,
// gzip (looking inside), a Zeek TSV header (#separator, #fields, or a row of
// conn.log column names), a JSON object with event_type (EVE) or with
// id.orig_h / id (Zeek JSON). A directory is a Zeek log folder when it
// holds a conn log.
func Detect(path string) (Format, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Unknown, fmt.Errorf("input: %w", err)
	}
	if fi.IsDir() {
		files, err := zeek.ConnFiles(path)
		if err != nil {
			return Unknown, fmt.Errorf("input: %w", err)
		}
		if len(files) == 0 {
			return Unknown, fmt.Errorf("input: %s: a folder without conn.log: %w", path, ErrUnknownFormat)
		}
		return ZeekDir, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return Unknown, fmt.Errorf("input: %w", err)
	}
	defer func() { _ = f.Close() }() // read only: nothing to lose
	head, err := peek(f)
	if err != nil {
		return Unknown, fmt.Errorf("input: %s: %w", path, err)
	}
	if len(head) == 0 {
		return Unknown, fmt.Errorf("input: %s: empty file: %w", path, ErrUnknownFormat)
	}
	if format := DetectBytes(head); format != Unknown {
		return format, nil
	}
	return Unknown, fmt.Errorf("input: %s: %w (starts with %q)", path, ErrUnknownFormat, shorten(head, 24))
}

// peek returns the first peekBytes of r, decompressed when it is gzip.
func peek(r io.Reader) ([]byte, error) {
	br := bufio.NewReaderSize(r, peekBytes)
	head, err := br.Peek(peekBytes)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	zr, err := gunzip.Sniff(br)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if zr != nil {
		defer func() { _ = zr.Close() }() // a peek: checksums are checked by the reader
		buf := make([]byte, peekBytes)
		n, err := io.ReadFull(zr, buf)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			if n == 0 {
				return nil, fmt.Errorf("gzip: %w", err)
			}
		}
		return buf[:n], nil
	}
	return head, nil
}

// DetectBytes tells the format from the first bytes of a (decompressed)
// file; Unknown when they say nothing it knows.
func DetectBytes(head []byte) Format {
	if len(head) >= 4 {
		switch m := uint32(head[0])<<24 | uint32(head[1])<<16 | uint32(head[2])<<8 | uint32(head[3]); m {
		case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
			return Pcap
		case 0x0a0d0d0a:
			return Pcapng
		}
	}
	rest := bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	for len(rest) > 0 {
		var line []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			// The last, maybe cut, line: decide on it only if it is all there.
			line, rest = rest, nil
			if len(head) == peekBytes {
				return Unknown
			}
		}
		line = bytes.TrimRight(line, "\r")
		t := bytes.TrimLeft(line, " \t")
		switch {
		case len(t) == 0:
			continue
		case t[0] == '#':
			if bytes.HasPrefix(t, []byte("#separator")) || bytes.HasPrefix(t, []byte("#fields")) {
				return ZeekTSV
			}
			continue // a comment ("### BTest ...") or another header
		case t[0] == '{':
			return detectJSON(t)
		}
		if zeek.IsHeaderRow(line) {
			return ZeekTSV
		}
		return Unknown
	}
	return Unknown
}

// detectJSON tells EVE from Zeek JSON by the top-level keys of one object.
func detectJSON(line []byte) Format {
	var it jscan.Iter
	if it.Init(line) != nil {
		return Unknown
	}
	zeekish := false
	for {
		key, _, _, _, err := it.Next()
		if err != nil {
			break
		}
		switch string(key) {
		case "event_type":
			return EVE
		case "id.orig_h", "id":
			zeekish = true
		}
	}
	if zeekish {
		return ZeekJSON
	}
	return Unknown
}

func shorten(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// Options configures ReadFiles.
type Options struct {
	// Pcap configures the capture reader; nil means pcap.DefaultConfig().
	// Its own Progress, if set, is still called.
	Pcap *pcap.Config
	// Progress, when set, is called as reading goes (about every 64k
	// packets or lines, and at the end of each file) with a snapshot over
	// all paths, captures and logs alike. It runs on the reading goroutine:
	// keep it short.
	Progress func(Progress)
}

// Progress is a snapshot of a ReadFiles run.
type Progress struct {
	File      string // path being read
	FileIndex int    // its index in the paths
	Files     int    // number of paths
	BytesRead int64  // bytes read from the files so far (before decompression), all paths
	Records   int64  // records emitted so far
	Packets   uint64 // packets decoded so far (captures)
}

// FileSummary is what ReadFiles did with one path.
type FileSummary struct {
	Path    string
	Format  Format
	Records int64
	Bad     int64 // bad lines skipped (logs only)
	Err     error // the error that ended this file early, nil when read to the end
}

// Summary reports a ReadFiles run.
type Summary struct {
	Files   []FileSummary // one per path, in order
	Records int64         // records emitted, all formats
	Bad     int64         // bad lines skipped, all logs

	Zeek logline.Stats  // summed over Zeek logs
	EVE  eve.Stats      // summed over EVE files
	Pcap []pcap.Summary // one per run of consecutive captures
}

// ReadFiles reads the paths in order, each with the reader its content
// calls for, and calls emit for every record. Consecutive captures are
// metered together as one stream (one flow table), as pcap.ReadFiles does.
// emit receives a record that is reused: it must copy *r to keep it.
//
// A path that cannot be read, or whose format is unknown, does not stop the
// run: its error (naming the file) is returned, joined with the others,
// after the remaining paths were read. An error from emit, or the end of
// ctx, stops the run and is returned as is.
func ReadFiles(ctx context.Context, paths []string, opts Options, emit func(*flow.Record) error) (Summary, error) {
	var sum Summary
	cfg := pcap.DefaultConfig()
	if opts.Pcap != nil {
		cfg = *opts.Pcap
	}
	var errs []error
	var stopErr error
	var done int64 // bytes of the files finished
	var packets uint64
	report := func(i int, fileBytes int64) {
		if opts.Progress != nil {
			opts.Progress(Progress{File: paths[i], FileIndex: i, Files: len(paths),
				BytesRead: done + fileBytes, Records: sum.Records, Packets: packets})
		}
	}
	logOpts := func(i int) logline.ReadOptions {
		if opts.Progress == nil {
			return logline.ReadOptions{}
		}
		return logline.ReadOptions{Progress: func(n int64) { report(i, n) }}
	}
	counting := func(fs *FileSummary) func(*flow.Record) error {
		return func(r *flow.Record) error {
			fs.Records++
			sum.Records++
			if err := emit(r); err != nil {
				stopErr = err
				return err
			}
			return nil
		}
	}
	formats := make([]Format, len(paths))
	sum.Files = make([]FileSummary, len(paths))
	for i, p := range paths {
		sum.Files[i].Path = p
		formats[i], sum.Files[i].Err = Detect(p)
		sum.Files[i].Format = formats[i]
	}
	for i := 0; i < len(paths); i++ {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		fs := &sum.Files[i]
		if fs.Err != nil {
			errs = append(errs, fs.Err)
			continue
		}
		var err error // the error that ended this path (or run of captures) early
		switch formats[i] {
		case Pcap, Pcapng:
			j := i
			for j < len(paths) && formats[j].IsCapture() && sum.Files[j].Err == nil {
				j++
			}
			// Records of a run of captures are counted against its first
			// file: the meter does not say which file a flow ended in.
			runCfg := cfg
			if opts.Progress != nil {
				first, inner, base := i, cfg.Progress, done
				runCfg.Progress = func(p pcap.Progress) {
					if inner != nil {
						inner(p)
					}
					packets = p.Packets
					done = base // BytesRead covers the run's files so far
					report(first+p.FileIndex, p.BytesRead)
				}
			}
			startPackets := packets
			ps, perr := pcap.ReadFiles(ctx, paths[i:j], runCfg, counting(fs))
			sum.Pcap = append(sum.Pcap, ps)
			packets = startPackets + ps.Packets
			done += int64(ps.Bytes)
			err = perr
			i = j - 1
		case ZeekTSV, ZeekJSON, ZeekDir:
			st, zerr := zeek.ReadFileWith(ctx, paths[i], logOpts(i), counting(fs))
			done += pathSize(paths[i])
			sum.Zeek.Add(st)
			fs.Bad = st.Bad
			err = zerr
		case EVE:
			st, eerr := eve.ReadFileWith(ctx, paths[i], logOpts(i), counting(fs))
			done += pathSize(paths[i])
			sum.EVE.Add(st)
			fs.Bad = st.Bad
			err = eerr
		}
		sum.Bad += fs.Bad
		if stopErr != nil {
			return sum, stopErr
		}
		if err != nil {
			if ctx.Err() != nil {
				return sum, ctx.Err()
			}
			fs.Err = err
			errs = append(errs, err)
		}
	}
	return sum, errors.Join(errs...)
}

// pathSize is the size of a file, or of the conn logs of a folder.
func pathSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if !fi.IsDir() {
		return fi.Size()
	}
	files, _ := zeek.ConnFiles(path)
	var n int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n
}
