package pcap

import (
	"fmt"
	"strings"
)

// ErrKind classifies a frame-level decode problem. Most kinds drop the
// packet they were found in; the notes (SnaplenCut, IPLenZero, FragOverlap)
// only record that something was odd and the packet is still emitted.
// The String names are stable: reports and tests use them.
type ErrKind uint8

// Decode problem kinds, counted in DecodeStats.Errors.
const (
	ErrTruncatedLink      ErrKind = iota // frame shorter than its link-layer header
	ErrUnknownLinkType                   // link type the decoder does not know
	ErrTruncatedIP                       // IP header cut, or the IP length exceeds the frame's wire length
	ErrBadIPVersion                      // IP version neither 4 nor 6
	ErrBadIPHeaderLen                    // IPv4 IHL < 5 or beyond the total length
	ErrBadIPChecksum                     // IPv4 header checksum wrong (packet dropped, as Zeek does)
	ErrTruncatedIP6Ext                   // IPv6 extension header chain cut
	ErrTruncatedTransport                // TCP/UDP/ICMP/SCTP header cut (packet dropped, as Zeek does)
	ErrBadTCPHeaderLen                   // TCP data offset < 5 or beyond the IP payload
	ErrTruncatedTunnel                   // tunnel header cut or inconsistent
	ErrTunnelDepth                       // tunnels nested deeper than MaxTunnelDepth
	ErrTooManyPackets                    // more than maxFramePackets packets in one frame
	ErrFragOverflow                      // fragment dropped: reassembly table or byte budget full
	ErrFragTooBig                        // fragment beyond the 64 KiB datagram limit
	ErrFragTimeout                       // incomplete datagram expired or evicted
	ErrFragCut                           // fragment cut by the snaplen: cannot be reassembled
	ErrIPLenZero                         // IPv4 length zero (TSO): dropped, or the capture length used when checksums are not verified
	ErrSnaplenCut                        // note: packet captured shorter than its IP length
	ErrFragOverlap                       // note: overlapping fragments (later bytes win)
	ErrIP6NoTransport                    // note: IPv6 ending in ESP, Mobility or No Next Header: no Packet, as Zeek makes no connection
	numErrKinds
)

var errKindNames = [numErrKinds]string{
	ErrTruncatedLink:      "truncated-link",
	ErrUnknownLinkType:    "unknown-linktype",
	ErrTruncatedIP:        "truncated-ip",
	ErrBadIPVersion:       "bad-ip-version",
	ErrBadIPHeaderLen:     "bad-ip-header-len",
	ErrBadIPChecksum:      "bad-ip-checksum",
	ErrTruncatedIP6Ext:    "truncated-ip6-ext",
	ErrTruncatedTransport: "truncated-transport",
	ErrBadTCPHeaderLen:    "bad-tcp-header-len",
	ErrTruncatedTunnel:    "truncated-tunnel",
	ErrTunnelDepth:        "tunnel-depth",
	ErrTooManyPackets:     "too-many-packets",
	ErrFragOverflow:       "frag-overflow",
	ErrFragTooBig:         "frag-too-big",
	ErrFragTimeout:        "frag-timeout",
	ErrFragCut:            "frag-cut",
	ErrIPLenZero:          "ip-len-zero",
	ErrSnaplenCut:         "snaplen-cut",
	ErrFragOverlap:        "frag-overlap",
	ErrIP6NoTransport:     "ip6-no-transport",
}

// String returns the kind's short name, e.g. "truncated-ip".
func (k ErrKind) String() string {
	if k < numErrKinds {
		return errKindNames[k]
	}
	return fmt.Sprintf("errkind(%d)", uint8(k))
}

// Note reports whether the kind is only a note: the packet was still emitted.
func (k ErrKind) Note() bool {
	return k == ErrSnaplenCut || k == ErrFragOverlap || k == ErrIP6NoTransport
}

// DecodeError names one decode problem and the frame it was found in.
type DecodeError struct {
	Frame uint64 // 1-based frame (packet) number in the file
	Kind  ErrKind
}

func (e DecodeError) Error() string {
	return fmt.Sprintf("packet %d: %s", e.Frame, e.Kind)
}

// MaxExamples is how many DecodeErrors DecodeStats keeps as examples.
const MaxExamples = 8

// DecodeStats counts what the decoder saw. Counts never reset.
type DecodeStats struct {
	Frames  uint64 // frames read
	NonIP   uint64 // frames without IP (ARP, STP, LLDP, encrypted 802.11, ...)
	Packets uint64 // Packets emitted (outer and tunnelled)
	Tunnels uint64 // of which carried in a tunnel

	// Errors counts decode problems by kind (index with an ErrKind).
	Errors [numErrKinds]uint64
	// Examples holds the first MaxExamples problems that dropped something
	// (notes excluded), so a report can name packet numbers.
	Examples []DecodeError

	Frag FragStats
}

// ErrorCount returns the number of problems that dropped something (notes
// excluded).
func (s *DecodeStats) ErrorCount() uint64 {
	var n uint64
	for k, c := range s.Errors {
		if !ErrKind(k).Note() {
			n += c
		}
	}
	return n
}

// ErrorsString lists the non-zero error counts as "kind=n kind=n", or "none".
func (s *DecodeStats) ErrorsString() string {
	var b strings.Builder
	for k, c := range s.Errors {
		if c == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", ErrKind(k), c)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// String summarises the counters on one line.
func (s DecodeStats) String() string {
	return fmt.Sprintf("frames=%d packets=%d tunnelled=%d non-ip=%d decode-errors: %s; %s",
		s.Frames, s.Packets, s.Tunnels, s.NonIP, s.ErrorsString(), s.Frag)
}

// Add adds o's counters to s (Examples are appended up to MaxExamples).
func (s *DecodeStats) Add(o DecodeStats) {
	s.Frames += o.Frames
	s.NonIP += o.NonIP
	s.Packets += o.Packets
	s.Tunnels += o.Tunnels
	for k := range s.Errors {
		s.Errors[k] += o.Errors[k]
	}
	for _, e := range o.Examples {
		if len(s.Examples) < MaxExamples {
			s.Examples = append(s.Examples, e)
		}
	}
	s.Frag.add(o.Frag)
}
