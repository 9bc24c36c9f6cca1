// Package eve reads Suricata EVE JSON into flow.Records.
//
// Two event types carry flows. A `flow` event is bidirectional and becomes
// one record. `netflow` events come in unidirectional halves sharing a
// flow_id, which a Pairer merges into one record (see Netflow pairing).
// Every other event type is skipped and counted.
//
// # Mapping
//
//	EVE                                   flow.Record
//	src_ip, src_port                      OrigH, OrigP  (the client: Suricata's to-server side)
//	dest_ip, dest_port                    RespH, RespP
//	icmp_type, icmp_code                  OrigP, RespP  (Zeek's convention for ICMP)
//	proto TCP/UDP/ICMP/IPv6-ICMP          Proto tcp/udp/icmp/icmp, IPProto 6/17/1/58
//	proto SCTP, GRE, numbers, ...         Proto unknown_transport, IPProto from the name or number
//	flow.start                            TS (timestamp when absent)
//	flow.end - flow.start                 Duration
//	flow.pkts_toserver/_toclient          OrigPkts/RespPkts
//	flow.bytes_toserver/_toclient         OrigIPBytes/RespIPBytes (see below)
//	netflow.pkts/bytes of each half       Orig*/Resp* of the merged record
//	netflow half alone (Netflow pairing)  Orig* only, Resp* 0: a one-sided record
//	app_proto                             Service, in Zeek's names (table below); "failed" and "unknown" → ""
//	community_id                          CommunityID, kept as written (derived when written out, when absent)
//	vlan [outer, inner]                   VLAN, InnerVLAN
//	flow_id                               UID "E" + flow_id in hex (EVE has no Zeek uid)
//	(none)                                OrigBytes, RespBytes, MissedBytes stay 0: EVE has no payload counts
//
// Suricata's byte counters include the link-layer header of every packet
// (14 bytes per Ethernet frame), so OrigIPBytes/RespIPBytes read from EVE
// are larger than Zeek's by that much per packet.
//
// app_proto to Zeek service: tls→ssl, dcerpc→dce_rpc, krb5→krb, smb→smb,
// pgsql→postgresql, rfb→vnc, ike→ike, http2→http2, dnp3→dnp3_tcp or dnp3_udp,
// bittorrent-dht→bittorrent; http, dns, ftp, ftp-data, ssh, smtp, imap, pop3,
// dhcp, ntp, snmp, sip, rdp, mqtt, modbus, nfs, tftp, quic, irc, mysql, ldap
// and others keep their name.
//
// # Netflow pairing
//
// Suricata writes the to-server half of a flow and, when the flow had
// replies, the to-client half at the same moment, with the same flow_id
// (lines of other threads may come between). A Pairer holds a half until
// its partner arrives and then emits the merged record, taking the half
// read first as the to-server one (counted in Merged). A half is emitted
// alone, one-sided (counted in Unpaired), when:
//
//   - it has no flow_id;
//   - event time has moved more than IdleTimeout (60 s) past the moment
//     it was read (Pairer.FlushIdle, called after each line): its partner
//     is not coming, the flow was one-way;
//   - the table is full (MaxPending, 16,384 halves) and it is the oldest;
//   - the input ends (Pairer.Flush), or the daemon stops.
//
// Event time is the newest end (else start, else timestamp) of the halves
// the Pairer has read, not the wall clock: a file read hours after it was
// written pairs the same as one followed live, and the idle rule compares
// a half's wait with later events, not with the age of its own flow
// (Suricata logs a flow when it times out, long after its last packet). As
// long as no later half arrives, event time stands still and a half keeps
// waiting; the daemon adds a wall-clock rule for that case (a quiet minute
// without EVE lines). Ends before 1970 or more than a day past the wall clock are
// garbage and do not move event time: one such timestamp would otherwise
// flush every waiting half at once and stop idle flushing until real
// events caught up with it.
//
// One Pairer may serve the parsers of several files (Pairer.NewParser):
// the daemon shares one across the EVE files it follows, as a rotation can
// fall between the halves of a pair. Its content can be saved
// (Pairer.State) and put back (Pairer.Restore); the daemon commits it with
// its read positions, so that a half read before a crash is neither lost
// nor read twice.
//
// # conn_state and history
//
// EVE has no Zeek state machine; the parser derives the nearest conn_state
// from the TCP flags seen in each direction (tcp.tcp_flags_ts and
// tcp.tcp_flags_tc, or for netflow the tcp.tcp_flags of each half):
//
//	flags seen (o = originator, r = responder)   conn_state
//	o SYN, r SYN+ACK, o FIN and r FIN             SF
//	o SYN, r SYN+ACK, o RST                       RSTO
//	o SYN, r SYN+ACK, r RST                       RSTR
//	o SYN, r SYN+ACK, only o FIN                  S2
//	o SYN, r SYN+ACK, only r FIN                  S3
//	o SYN, r SYN+ACK, no FIN or RST               S1
//	o SYN, no r SYN, r RST                        REJ
//	o SYN, no r SYN, o RST                        RSTOS0
//	o SYN, no r SYN, o FIN                        SH
//	o SYN, nothing from r                         S0
//	no o SYN, r SYN, r RST                        RSTRH
//	no o SYN, r SYN, r FIN                        SHR
//	anything else (midstream)                     OTH
//	TCP without per-direction flags               flow.state: new→S0, established→S1, closed→SF, else OTH
//	UDP                                           packets both ways SF, only to server S0, only to client SHR
//	ICMP and other transports (SCTP, GRE, ...)    OTH, no history (as Zeek)
//
// History is an approximation in Zeek's letters (upper case originator,
// lower case responder), in Zeek's usual order: S (SYN), h (SYN+ACK),
// A (originator ACK), D/d (PSH seen, taken as data), a (responder ACK after
// the handshake), F/f (FIN), R/r (RST). UDP gets D and/or d by which
// direction had packets; ICMP and other transports get none, as in Zeek.
package eve

import (
	"errors"
	"net/netip"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/jscan"
	"github.com/mlads/mlads/internal/logline"
)

// maxEventTypes bounds the distinct event_type names counted by name; the
// rest are counted under "other".
const maxEventTypes = 256

// event holds the fields of one EVE line that the mapping uses. Slices
// alias the line.
type event struct {
	eventType            []byte
	flowID               uint64
	haveFlowID           bool
	srcIP, destIP        netip.Addr
	srcPort, destPort    uint16
	proto                []byte
	appProto             []byte
	icmpType, icmpCode   uint16
	haveICMP             bool
	communityID          []byte
	vlan, innerVLAN      uint16
	timestamp            []byte
	pktsTS, pktsTC       uint64
	bytesTS, bytesTC     uint64
	start, end           []byte
	state                []byte
	flagsTS, flagsTC     uint8
	flags                uint8 // cumulative tcp_flags
	haveDirFlags         bool
	haveFlags            bool
	tcpBools             uint8 // syn/fin/rst/psh/ack booleans
	netPkts, netBytes    uint64
	haveNetflowCounters  bool
	haveFlowObj, haveNet bool
}

// Parser parses EVE lines one at a time. It is not safe for concurrent use.
type Parser struct {
	name    string
	line    int64
	strs    logline.Strings
	it, sub jscan.Iter
	// key orders of the last event and of its flow, netflow and tcp objects
	top, flowKeys, netKeys, tcpKeys jscan.Order
	ev                              event
	buf                             []byte
	pair                            *Pairer // where netflow halves wait

	flows, netflows int64
	events          map[string]int64 // other event types
	// Skipped counts events of types that carry no flow.
	Skipped int64
}

// NewParser returns a parser for the file called name (used in errors),
// with a Pairer of its own.
func NewParser(name string) *Parser { return NewPairer().NewParser(name) }

// Pairer returns the Pairer where the parser's netflow halves wait: its
// own, or the one that made it.
func (p *Parser) Pairer() *Pairer { return p.pair }

// SetLineNumber sets the number of the last line read, so the next line
// parsed is n+1. The tailer calls it when it resumes mid-file.
func (p *Parser) SetLineNumber(n int64) { p.line = n }

// LineNumber returns the number of the last line parsed.
func (p *Parser) LineNumber() int64 { return p.line }

var (
	errNoAddrs   = errors.New("flow event without src_ip and dest_ip")
	errNotObject = errors.New("object expected")
	errNotNumber = errors.New("number expected")
	errNotString = errors.New("string expected")
	errNoEvent   = errors.New("no event_type: not an EVE record")
	errHexFlags  = errors.New("not one or two hex digits")
)

func (p *Parser) lineErr(kind logline.ErrorKind, field string, val []byte, err error) *logline.LineError {
	return logline.NewLineError("eve", p.name, p.line, kind, field, val, err)
}

// ParseLine parses one line (without its newline). A flow event fills r and
// returns ok=true. The first half of a netflow pair is held in the Pairer
// and returns ok=false; its partner returns the merged record with ok=true
// (when the pending table is full, a line may instead return the oldest
// held half, alone, while it holds the new one; a half without flow_id
// returns itself, alone). After each line, Pairer.FlushIdle emits the
// halves given up on. Other event types and empty lines
// return ok=false with a nil error, counted in Events and Skipped; their
// lines are read only up to event_type, so a broken alert line is counted as
// an alert, not as bad. A bad flow or netflow line returns a
// *logline.LineError naming file and line; the caller counts it and goes on.
//
// r is overwritten entirely; its strings stay valid after the call.
func (p *Parser) ParseLine(line []byte, r *flow.Record) (ok bool, err error) {
	p.line++
	if p.line == 1 && len(line) >= 3 && line[0] == 0xef && line[1] == 0xbb && line[2] == 0xbf {
		line = line[3:] // a UTF-8 byte order mark
	}
	if len(line) == 0 || line[0] != '{' {
		// Only a line of blanks needs trimming here: after an object, the
		// scanner skips them itself (and reading a line from its start
		// only is kinder to the cache).
		for n := len(line); n > 0 && (line[n-1] == ' ' || line[n-1] == '\t' || line[n-1] == '\r'); n-- {
			line = line[:n-1]
		}
		if len(line) == 0 {
			return false, nil
		}
	}
	ev := &p.ev
	*ev = event{}
	if err := p.scan(line); err != nil {
		return false, err
	}
	switch string(ev.eventType) {
	case "flow":
		p.flows++
		if err := p.build(r); err != nil {
			return false, err
		}
		return true, nil
	case "netflow":
		p.netflows++
		return p.netflow(line, r)
	case "":
		return false, p.lineErr(logline.KindMissing, "", line, errNoEvent)
	}
	p.count(ev.eventType)
	p.Skipped++
	return false, nil
}

func (p *Parser) count(t []byte) {
	if _, ok := p.events[string(t)]; ok {
		p.events[p.strs.Intern(t)]++ // an interned key: no allocation
		return
	}
	if len(p.events) >= maxEventTypes {
		p.events["other"]++
		return
	}
	p.events[string(t)]++
}

// Events returns how many lines of each event_type the parser has seen
// (flow and netflow included; past maxEventTypes names, "other").
func (p *Parser) Events() map[string]int64 {
	out := make(map[string]int64, len(p.events)+2)
	for k, v := range p.events {
		out[k] = v
	}
	if p.flows > 0 {
		out["flow"] = p.flows
	}
	if p.netflows > 0 {
		out["netflow"] = p.netflows
	}
	return out
}
