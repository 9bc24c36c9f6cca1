package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// pcapReader reads the records of a classic pcap file in place from one
// large buffer: a record's data is a slice of the buffer, valid until the
// next call. It replaces pcapgo.Reader on the hot path, which copies every
// record a second time (from its bufio.Reader into its packet buffer) and
// builds a time.Time per record: with it, `mlads flows` spent about a tenth
// of its time on one core in that copy and the header (BenchmarkMeterFile).
// Its checks and error messages are pcapgo's, so a corrupt file reads the
// same way; unlike pcapgo, a file that ends right after a record header is
// reported as truncated rather than as a clean end.
type pcapReader struct {
	r        io.Reader
	buf      []byte
	pos, end int  // unread bytes are buf[pos:end]
	eof      bool // r returned io.EOF (or another error, kept in err)
	err      error

	be       bool   // big-endian file
	nanoMul  uint32 // 1 for nanosecond files, 1000 for microsecond ones
	snaplen  uint32
	linkType layers.LinkType
}

// pcapMaxRecord is pcapgo's bound on a record's captured length when the
// header's snaplen is smaller (eagerReadMax).
const pcapMaxRecord = 262144

// newPcapRecords reads the file header from r; bufSize is the read buffer.
// pcapgo accepts only version 2.4; tcpdump and Wireshark also read 2.0 to
// 2.3, which some writers still use, so any 2.x is read.
func newPcapRecords(r io.Reader, bufSize int) (*pcapReader, error) {
	p := &pcapReader{r: r, buf: make([]byte, max(bufSize, 64<<10))}
	if err := p.fill(24); err != nil {
		return nil, err
	}
	h := p.buf[p.pos : p.pos+24]
	p.pos += 24
	var order binary.ByteOrder = binary.LittleEndian
	switch binary.LittleEndian.Uint32(h) {
	case pcapMagicMicro:
		p.nanoMul = 1000
	case pcapMagicNano:
		p.nanoMul = 1
	case pcapMagicMicroBE:
		p.nanoMul, p.be, order = 1000, true, binary.BigEndian
	case pcapMagicNanoBE:
		p.nanoMul, p.be, order = 1, true, binary.BigEndian
	default:
		return nil, fmt.Errorf("Unknown magic %x", binary.LittleEndian.Uint32(h)) //nolint:staticcheck // pcapgo's message
	}
	if v := order.Uint16(h[4:]); v != 2 {
		return nil, fmt.Errorf("Unknown major version %d", v) //nolint:staticcheck // pcapgo's message
	}
	p.snaplen = order.Uint32(h[16:])
	p.linkType = layers.LinkType(order.Uint32(h[20:]))
	return p, nil
}

// LinkType returns the file's link type.
func (p *pcapReader) LinkType() layers.LinkType { return p.linkType }

// fill makes at least n unread bytes available, or returns io.EOF when
// there are none at all at the end of the file and io.ErrUnexpectedEOF
// when there are fewer than n.
func (p *pcapReader) fill(n int) error {
	for p.end-p.pos < n {
		if p.eof {
			if p.err != nil {
				return p.err
			}
			if p.end == p.pos {
				return io.EOF
			}
			return io.ErrUnexpectedEOF
		}
		if n > len(p.buf)-p.pos {
			// Move the unread bytes to the front; grow for a large record.
			if n > len(p.buf) {
				nb := make([]byte, n+64<<10)
				p.end = copy(nb, p.buf[p.pos:p.end])
				p.buf = nb
			} else {
				p.end = copy(p.buf, p.buf[p.pos:p.end])
			}
			p.pos = 0
		}
		m, err := p.r.Read(p.buf[p.end:])
		p.end += m
		if err != nil {
			p.eof = true
			if !errors.Is(err, io.EOF) {
				p.err = err
			}
		}
	}
	return nil
}

// next returns the next record's data (valid until the next call), its
// time in nanoseconds since the epoch and its original length.
func (p *pcapReader) next() (data []byte, ts int64, wire int, err error) {
	if err := p.fill(16); err != nil {
		return nil, 0, 0, err
	}
	h := p.buf[p.pos : p.pos+16]
	var sec, frac, capLen, origLen uint32
	if p.be {
		sec, frac = binary.BigEndian.Uint32(h), binary.BigEndian.Uint32(h[4:])
		capLen, origLen = binary.BigEndian.Uint32(h[8:]), binary.BigEndian.Uint32(h[12:])
	} else {
		sec, frac = binary.LittleEndian.Uint32(h), binary.LittleEndian.Uint32(h[4:])
		capLen, origLen = binary.LittleEndian.Uint32(h[8:]), binary.LittleEndian.Uint32(h[12:])
	}
	if capLen > max(p.snaplen, pcapMaxRecord) {
		return nil, 0, 0, fmt.Errorf("capture length exceeds snap length: %d > %d", capLen, p.snaplen)
	}
	if capLen > origLen {
		return nil, 0, 0, fmt.Errorf("capture length exceeds original packet length: %d > %d", capLen, origLen)
	}
	n := int(capLen)
	if err := p.fill(16 + n); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, 0, 0, err
	}
	data = p.buf[p.pos+16 : p.pos+16+n : p.pos+16+n]
	p.pos += 16 + n
	// As time.Unix(sec, frac*mul) in pcapgo, including its uint32 product.
	ts = int64(sec)*int64(time.Second) + int64(frac*p.nanoMul)
	return data, ts, int(origLen), nil
}

// ReadPacketData returns a copy of the next record, as pcapgo's method of
// that name does (for tests and seed corpora).
func (p *pcapReader) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	data, ts, wire, err := p.next()
	if err != nil {
		return nil, gopacket.CaptureInfo{}, err
	}
	return append([]byte(nil), data...), gopacket.CaptureInfo{Timestamp: time.Unix(0, ts).UTC(),
		CaptureLength: len(data), Length: wire}, nil
}
