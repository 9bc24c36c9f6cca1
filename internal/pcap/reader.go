// Package pcap turns captured packets into flows: it reads capture files
// (pcap, pcapng, gzip-compressed or not), decodes each frame down to its IP
// packets (through link layers, encapsulations, fragments and tunnels), and
// folds those packets into connections the way Zeek's conn.log counts them.
//
// The decoder half (reader.go, decode*.go, frag*.go, layers*.go) yields
// Packets; the flow table half (table*.go and friends) consumes them. The
// contract between the two is the Packet type in packet.go. Meter (live.go)
// drives both for frames handed over one at a time, as a live capture
// (internal/capture) does. Checksum verification's auto mode, Suricata's,
// is in checksum_auto.go.
package pcap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/mlads/mlads/internal/gunzip"
)

// Magic numbers that identify a capture file by its first bytes.
var (
	magicPcapngLE = []byte{0x0a, 0x0d, 0x0d, 0x0a}
)

// pcap file magics (as read little-endian from the first four bytes),
// for microsecond and nanosecond timestamps, written little- or big-endian.
const (
	pcapMagicMicro   = 0xa1b2c3d4
	pcapMagicNano    = 0xa1b23c4d
	pcapMagicMicroBE = 0xd4c3b2a1
	pcapMagicNanoBE  = 0x4d3cb2a1
)

// ErrUnknownFormat is returned (wrapped with the file name) when a file is
// neither pcap nor pcapng, compressed or not.
var ErrUnknownFormat = errors.New("not a pcap or pcapng capture")

// Options tune a Source. The zero value is not the default: use
// DefaultOptions and change what you need.
type Options struct {
	// VerifyChecksums checks IPv4 header checksums (a bad one drops the
	// packet, as Zeek does) and TCP, UDP, ICMP and ICMPv6 checksums (a bad one
	// sets Packet.BadChecksum). Zeek does this by default; its -C switch
	// turns it off. Packets cut by the snaplen are never verified. With it
	// off, an IPv4 length of zero (TCP segmentation offload) is replaced by
	// the captured length instead of dropping the packet, as zeek -C does.
	VerifyChecksums bool
	// AutoChecksums decides VerifyChecksums from the first packets, as
	// Suricata's checksum-validation auto mode does (checksum_auto.go):
	// checking is switched off when more than one in AutoChecksumRatio of
	// them fail it (checksum offloading on the capturing host). The sample
	// is held and decoded after the decision, so it is treated like the
	// rest. VerifyChecksums is ignored when it is set.
	AutoChecksums bool
	// Frag bounds the fragment reassembly state.
	Frag FragLimits
}

// DefaultOptions returns the options Zeek's defaults correspond to.
func DefaultOptions() Options {
	return Options{VerifyChecksums: true, Frag: DefaultFragLimits()}
}

// Source reads frames from one capture file and decodes them into Packets.
// A Source is not safe for concurrent use.
type Source struct {
	name   string
	closer io.Closer
	count  *countingReader
	size   int64

	pr       *pcapReader      // classic pcap
	ng       *pcapgo.NgReader // pcapng: link type per interface
	linkType layers.LinkType

	frame     uint64 // frames read
	frameDone uint64 // the frame Next returned last
	dec       decoder
	auto      *checksumAuto // auto mode, until every held frame was decoded
	sum       ChecksumDecision
}

// countingReader counts the bytes read from the file, for progress reports.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// OpenFile opens a capture file with DefaultOptions. The format (pcap or
// pcapng, gzip-compressed or not) is detected from the content.
func OpenFile(path string) (*Source, error) {
	return OpenFileOptions(path, DefaultOptions())
}

// OpenFileOptions opens a capture file with the given options.
func OpenFileOptions(path string, opt Options) (*Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	var size int64
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	s, err := newSource(filepath.Base(path), f, size, opt)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	s.closer = f
	s.size = size
	return s, nil
}

// NewSource reads a capture from r with DefaultOptions; name is used in
// error messages. Closing the Source does not close r.
func NewSource(name string, r io.Reader) (*Source, error) {
	return newSource(name, r, 0, DefaultOptions())
}

// NewSourceOptions is NewSource with options.
func NewSourceOptions(name string, r io.Reader, opt Options) (*Source, error) {
	return newSource(name, r, 0, opt)
}

// newSource detects the format and sets up the reader. size is the file's
// size when known (0 otherwise); it sizes the buffers, so that the many
// small captures of a test corpus do not each cost a megabyte.
func newSource(name string, r io.Reader, size int64, opt Options) (*Source, error) {
	s := &Source{name: name, count: &countingReader{r: r}}
	s.dec.init(opt)
	if opt.AutoChecksums {
		s.auto = newChecksumAuto(opt)
	}
	// Only for peeking at the magic: the readers below do large reads,
	// which bufio passes straight through.
	br := bufio.NewReaderSize(s.count, 4096)
	head, err := br.Peek(4)
	if len(head) == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("pcap: %s: empty file", name)
		}
		return nil, fmt.Errorf("pcap: %s: %w", name, err)
	}
	var in io.Reader = br
	zr, err := gunzip.Sniff(br)
	if err != nil {
		return nil, fmt.Errorf("pcap: %s: gzip: %w", name, err)
	}
	if zr != nil {
		zbr := bufio.NewReaderSize(zr, 4096)
		head, err = zbr.Peek(4)
		if len(head) == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("pcap: %s: empty file (after gzip)", name)
			}
			return nil, fmt.Errorf("pcap: %s: gzip: %w", name, err)
		}
		in = zbr
		size = 0 // unknown once decompressed
	}
	if len(head) < 4 {
		return nil, fmt.Errorf("pcap: %s: %w (only %d bytes)", name, ErrUnknownFormat, len(head))
	}
	switch {
	case bytes.Equal(head, magicPcapngLE):
		// NgReader reads through a bufio.Reader of its own unless given
		// one large enough.
		ng, err := pcapgo.NewNgReader(bufio.NewReaderSize(in, bufferSize(size, 256<<10)),
			pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, fmt.Errorf("pcap: %s: pcapng header: %w", name, err)
		}
		s.ng, s.linkType = ng, ng.LinkType()
	case isPcapMagic(head):
		pr, err := newPcapRecords(in, bufferSize(size, pcapReadBuffer))
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("pcap: %s: pcap header: %w", name, err)
		}
		s.pr, s.linkType = pr, pr.LinkType()
	default:
		return nil, fmt.Errorf("pcap: %s: %w (starts with % x)", name, ErrUnknownFormat, head)
	}
	return s, nil
}

// pcapReadBuffer is the read buffer of a classic pcap file (pcapReader).
// Larger than bufio's default: reading a file through 4 KiB reads cost
// about a fifth more CPU per frame in BenchmarkDecode/source.
const pcapReadBuffer = 256 << 10

// bufferSize is a read buffer size for a file of the given size (0 when
// unknown): the whole file if it is small, at most max.
func bufferSize(size int64, max int) int {
	const least = 64 << 10
	if size <= 0 || size >= int64(max) {
		return max
	}
	return int(size) + least // room for the header and a record beyond a short file
}

func isPcapMagic(b []byte) bool {
	m := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	switch m {
	case pcapMagicMicro, pcapMagicNano, pcapMagicMicroBE, pcapMagicNanoBE:
		return true
	}
	return false
}

// Name returns the name given to the Source (the file's base name).
func (s *Source) Name() string { return s.name }

// LinkType returns the link type of the file (of its first interface for
// pcapng, whose frames may each have another).
func (s *Source) LinkType() layers.LinkType { return s.linkType }

// Next reads the next frame and appends the Packets found in it to dst[:0]:
// the outermost packet first, then the packets carried in tunnels, each with
// Parent set. A frame without IP (ARP, STP, ...) or one whose headers are
// broken yields no packets and a nil error; Stats counts it. At the end of
// the file Next returns io.EOF. Any other error is a fatal read error (the
// file is truncated or corrupt), wrapped with the file name and the frame
// number.
//
// The Payload of the returned Packets aliases the Source's buffers and is
// valid only until the next call to Next.
func (s *Source) Next(dst []Packet) ([]Packet, error) {
	dst = dst[:0]
	for {
		if s.auto != nil && s.auto.decided {
			pkts, frame, ok := s.auto.next(&s.dec, dst)
			if ok {
				s.frameDone = frame
				return pkts, nil
			}
			s.sum, s.auto = s.auto.res, nil
		}
		data, ts, lt, wire, err := s.read()
		if err != nil {
			if errors.Is(err, io.EOF) && s.auto != nil {
				s.auto.decide(&s.dec) // the input ended: decide on what was seen
				continue
			}
			return dst, s.readErr(err)
		}
		s.frame++
		if s.auto != nil {
			if s.auto.hold(s.frame, ts, lt, data, wire) {
				s.auto.decide(&s.dec)
			}
			continue
		}
		s.frameDone = s.frame
		return s.dec.decodeFrame(dst, s.frame, ts, lt, data, wire), nil
	}
}

// read reads the next frame of the file.
func (s *Source) read() (data []byte, ts int64, lt layers.LinkType, wire int, err error) {
	if s.pr != nil {
		data, ts, wire, err = s.pr.next()
		return data, ts, s.linkType, wire, err
	}
	data, ci, err := s.ng.ZeroCopyReadPacketData()
	if err != nil {
		return nil, 0, 0, 0, err
	}
	lt = s.linkType
	if len(ci.AncillaryData) > 0 {
		if l, ok := ci.AncillaryData[0].(layers.LinkType); ok {
			lt = l
		}
	}
	return data, ci.Timestamp.UnixNano(), lt, ci.Length, nil
}

// Checksums returns what auto mode decided (Options.AutoChecksums), or a
// decision with Auto false when the mode was not asked for.
func (s *Source) Checksums() ChecksumDecision {
	if s.auto != nil {
		return s.auto.res
	}
	return s.sum
}

// readErr passes io.EOF through and wraps any other read error with the
// file name and the number of the frame that could not be read.
func (s *Source) readErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return fmt.Errorf("pcap: %s packet %d: %w", s.name, s.frame+1, err)
}

// Frame returns the 1-based number of the last frame Next returned packets
// for (in auto checksum mode, frames read ahead into the sample are not
// counted until they are decoded).
func (s *Source) Frame() uint64 { return s.frameDone }

// BytesRead returns how many bytes have been read from the file so far
// (compressed bytes for a gzip file), for progress reports.
func (s *Source) BytesRead() int64 { return s.count.n }

// Size returns the file's size in bytes (compressed size for a gzip file),
// or 0 when it is unknown (a Source built with NewSource).
func (s *Source) Size() int64 { return s.size }

// Stats returns the decoder's counters so far. The Examples slice is a copy.
func (s *Source) Stats() DecodeStats {
	st := s.dec.stats
	st.Examples = append([]DecodeError(nil), st.Examples...)
	st.Frag = s.dec.frag.stats
	return st
}

// Close closes the file if the Source opened it.
func (s *Source) Close() error {
	if s.closer == nil {
		return nil
	}
	err := s.closer.Close()
	s.closer = nil
	if err != nil {
		return fmt.Errorf("pcap: %s: close: %w", s.name, err)
	}
	return nil
}
