// Package flow defines the one flow schema every mlads source produces and
// every later stage consumes.
//
// Field names and meanings follow Zeek's conn.log, so a Zeek user reads them
// without a glossary and pcap-derived flows can be checked line by line against
// what Zeek writes for the same capture. On top of Zeek's fields a Record
// carries the Community ID v1 hash, the VLAN tags and the source it came from.
//
// The package uses the standard library only; it sits at the bottom of the
// import graph.
package flow

import (
	"net/netip"
	"time"
)

// Source says where a Record came from.
type Source uint8

// The sources a Record can come from.
const (
	SourceUnknown Source = iota
	SourcePcap           // a capture file
	SourceLive           // a live interface
	SourceZeek           // a Zeek conn.log
	SourceEVE            // a Suricata EVE file
)

// String returns the name used in the schema's `source` field.
func (s Source) String() string {
	switch s {
	case SourcePcap:
		return "pcap"
	case SourceLive:
		return "live"
	case SourceZeek:
		return "zeek"
	case SourceEVE:
		return "eve"
	}
	return "unknown"
}

// ParseSource is the inverse of Source.String; unknown names give SourceUnknown.
func ParseSource(s string) Source {
	switch s {
	case "pcap":
		return SourcePcap
	case "live":
		return SourceLive
	case "zeek":
		return SourceZeek
	case "eve":
		return SourceEVE
	}
	return SourceUnknown
}

// Transport protocol names as Zeek writes them in conn.log's `proto` column.
const (
	ProtoTCP     = "tcp"
	ProtoUDP     = "udp"
	ProtoICMP    = "icmp" // Zeek logs ICMPv6 as "icmp" too
	ProtoUnknown = "unknown_transport"
)

// Record is one connection in Zeek conn.log terms.
//
// Optional Zeek fields follow Zeek's own rule for when they are set:
// `duration`, `orig_bytes` and `resp_bytes` are written only when the duration
// is above zero (see Record.HasDuration), `service` and `history` only when
// not empty. ICMP follows Zeek: the type is in OrigP and the code in RespP.
type Record struct {
	TS    time.Time // first packet of the connection
	UID   string    // Zeek's uid when read from a Zeek log; generated otherwise
	OrigH netip.Addr
	OrigP uint16
	RespH netip.Addr
	RespP uint16
	Proto string // ProtoTCP, ProtoUDP, ProtoICMP or ProtoUnknown

	// IPProto is the IP protocol number (6, 17, 1, 58, 132, ...). Zeek's
	// conn.log has no such column; it is kept because the Community ID
	// needs it and "unknown_transport" alone does not tell SCTP from GRE.
	IPProto uint8

	Service     string        // Zeek service names, comma-separated ("dns", "ssl,http")
	Duration    time.Duration // last packet minus first packet
	OrigBytes   uint64        // payload bytes from the originator (from TCP sequence numbers)
	RespBytes   uint64        // payload bytes from the responder
	ConnState   string        // S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH
	MissedBytes uint64        // bytes in content gaps
	History     string        // Zeek's history letters
	OrigPkts    uint64
	OrigIPBytes uint64
	RespPkts    uint64
	RespIPBytes uint64

	// TunnelParents holds the uids of the tunnel connections this one was
	// carried in, outermost first; nil when not tunnelled.
	TunnelParents []string

	// CommunityID is the Community ID v1 (seed 0) when the source gave
	// one (the pcap meter, a log with the column); empty otherwise, and
	// then derived when written (AppendCommunityID, CommunityIDOrDerived).
	CommunityID string
	VLAN        uint16 // outer 802.1Q tag, 0 when untagged
	InnerVLAN   uint16 // inner 802.1Q tag of QinQ, 0 when absent
	Source      Source

	// Label is the ground-truth label carried by labelled datasets
	// (Stratosphere, IoT-23); empty otherwise. It never reaches the
	// detectors; evaluation code reads it.
	Label string
}

// HasDuration reports whether Zeek would log duration, orig_bytes and
// resp_bytes for this record: Zeek sets them only when the duration is
// above zero.
func (r *Record) HasDuration() bool { return r.Duration > 0 }

// End returns the time of the connection's last packet.
func (r *Record) End() time.Time { return r.TS.Add(r.Duration) }
