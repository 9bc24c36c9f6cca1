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

// TCP flag bits as Suricata writes them in tcp_flags (hex).
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
)

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

// scan reads the members of one EVE line into p.ev. It stops early, without
// reading the rest, once event_type names a type that carries no flow.
func (p *Parser) scan(line []byte) error {
	ev := &p.ev
	it := &p.it
	if err := it.Init(line); err != nil {
		return p.lineErr(logline.KindJSON, "", line, err)
	}
	o := &p.top
	o.Start()
	for {
		key, _, code, kind, val, err := o.Next(it, topKey)
		if err != nil {
			if errors.Is(err, jscan.ErrEnd) {
				return nil
			}
			return p.lineErr(logline.KindJSON, "", line, err)
		}
		if kind == jscan.Null || code == kOther {
			continue
		}
		switch code {
		case kEventType:
			if kind != jscan.String {
				return p.lineErr(logline.KindJSON, "event_type", val, errNotString)
			}
			ev.eventType = val
			if string(val) != "flow" && string(val) != "netflow" {
				return nil
			}
		case kFlowID:
			n, err := jscan.ParseUint(val)
			if err != nil {
				return p.lineErr(logline.KindNumber, "flow_id", val, err)
			}
			ev.flowID, ev.haveFlowID = n, true
		case kTimestamp:
			ev.timestamp = val
		case kSrcIP, kDestIP:
			if kind != jscan.String {
				return p.lineErr(logline.KindAddr, string(key), val, errNotString)
			}
			a, err := logline.ParseAddr(val)
			if err != nil {
				return p.lineErr(logline.KindAddr, string(key), val, err)
			}
			if code == kSrcIP {
				ev.srcIP = a
			} else {
				ev.destIP = a
			}
		case kSrcPort, kDestPort, kICMPType, kICMPCode:
			n, err := jscan.ParseUint16(val)
			if err != nil || kind != jscan.Number {
				if err == nil {
					err = errNotNumber
				}
				return p.lineErr(logline.KindNumber, string(key), val, err)
			}
			switch code {
			case kSrcPort:
				ev.srcPort = n
			case kDestPort:
				ev.destPort = n
			case kICMPType:
				ev.icmpType, ev.haveICMP = n, true
			default:
				ev.icmpCode = n
			}
		case kProto:
			ev.proto = val
		case kAppProto:
			ev.appProto = val
		case kCommunityID:
			ev.communityID = val
		case kVLAN:
			if kind == jscan.Array {
				i := 0
				_ = jscan.ArrayEach(val, func(k jscan.Kind, v []byte) error {
					n, err := jscan.ParseUint16(v)
					if err == nil {
						if i == 0 {
							ev.vlan = n
						} else if i == 1 {
							ev.innerVLAN = n
						}
					}
					i++
					return nil
				})
			}
		case kFlow, kNetflow, kTCP:
			if kind != jscan.Object {
				return p.lineErr(logline.KindJSON, string(key), val, errNotObject)
			}
			if err := p.scanObject(code, val); err != nil {
				return err
			}
		}
	}
}

// scanObject reads the nested flow, netflow or tcp object.
func (p *Parser) scanObject(which uint8, obj []byte) error {
	ev := &p.ev
	it := &p.sub
	if err := p.it.Enter(it); err != nil {
		return p.lineErr(logline.KindJSON, "", obj, err)
	}
	o, lookup := &p.flowKeys, flowKey
	switch which {
	case kFlow:
		ev.haveFlowObj = true
	case kNetflow:
		ev.haveNet = true
		o, lookup = &p.netKeys, netflowKey
	default:
		o, lookup = &p.tcpKeys, tcpKey
	}
	o.Start()
	for {
		key, _, code, kind, val, err := o.Next(it, lookup)
		if err != nil {
			if errors.Is(err, jscan.ErrEnd) {
				return nil
			}
			return p.lineErr(logline.KindJSON, "", obj, err)
		}
		var num *uint64
		var bit uint8
		switch code {
		case kOther:
			continue
		case kPktsTS:
			num = &ev.pktsTS
		case kPktsTC:
			num = &ev.pktsTC
		case kBytesTS:
			num = &ev.bytesTS
		case kBytesTC:
			num = &ev.bytesTC
		case kPkts:
			num = &ev.netPkts
			ev.haveNetflowCounters = true
		case kBytes:
			num = &ev.netBytes
		case kStart:
			ev.start = val
		case kEnd:
			ev.end = val
		case kState:
			ev.state = val
		case kTCPFlags, kTCPFlagsTS, kTCPFlagsTC:
			f, ok := parseHex8(val)
			if !ok {
				return p.lineErr(logline.KindNumber, "tcp."+string(key), val, errHexFlags)
			}
			switch code {
			case kTCPFlags:
				ev.flags, ev.haveFlags = f, true
			case kTCPFlagsTS:
				ev.haveDirFlags = true
				ev.flagsTS = f
			default:
				ev.haveDirFlags = true
				ev.flagsTC = f
			}
		case kSYN:
			bit = tcpSYN
		case kFIN:
			bit = tcpFIN
		case kRST:
			bit = tcpRST
		case kPSH:
			bit = tcpPSH
		case kACK:
			bit = tcpACK
		}
		if bit != 0 && kind == jscan.True {
			ev.tcpBools |= bit
		}
		if num != nil {
			if kind != jscan.Number {
				return p.lineErr(logline.KindNumber, string(key), val, errNotNumber)
			}
			n, err := jscan.ParseUint(val)
			if err != nil {
				return p.lineErr(logline.KindNumber, string(key), val, err)
			}
			*num = n
		}
	}
}

// common fills the fields a flow event and a netflow half share.
func (p *Parser) common(r *flow.Record) error {
	ev := &p.ev
	*r = flow.Record{Source: flow.SourceEVE}
	if !ev.srcIP.IsValid() || !ev.destIP.IsValid() {
		return p.lineErr(logline.KindMissing, "", nil, errNoAddrs)
	}
	r.OrigH, r.RespH = ev.srcIP, ev.destIP
	r.OrigP, r.RespP = ev.srcPort, ev.destPort
	r.Proto, r.IPProto = p.proto(ev.proto)
	if r.Proto == flow.ProtoICMP && ev.haveICMP {
		r.OrigP, r.RespP = ev.icmpType, ev.icmpCode
	}
	r.Service = p.service(ev.appProto, r.Proto)
	if len(ev.communityID) > 0 {
		r.CommunityID = p.strs.Copy(ev.communityID)
	}
	r.VLAN, r.InnerVLAN = ev.vlan, ev.innerVLAN
	if ev.haveFlowID {
		p.buf = appendUID(p.buf[:0], ev.flowID)
		r.UID = p.strs.Copy(p.buf)
	}
	start, end := ev.start, ev.end
	if len(start) == 0 {
		start = ev.timestamp
	}
	if len(start) > 0 {
		t, err := jscan.ParseTime(start)
		if err != nil {
			return p.lineErr(logline.KindTime, "start", start, err)
		}
		r.TS = t
		if len(end) > 0 {
			e, err := jscan.ParseTime(end)
			if err != nil {
				return p.lineErr(logline.KindTime, "end", end, err)
			}
			if d := e.Sub(t); d > 0 {
				r.Duration = d
			}
		}
	}
	return nil
}

// build maps a flow event.
func (p *Parser) build(r *flow.Record) error {
	if err := p.common(r); err != nil {
		return err
	}
	ev := &p.ev
	r.OrigPkts, r.RespPkts = ev.pktsTS, ev.pktsTC
	r.OrigIPBytes, r.RespIPBytes = ev.bytesTS, ev.bytesTC
	of, rf, have := ev.flagsTS, ev.flagsTC, ev.haveDirFlags
	if !have && (ev.haveFlags || ev.tcpBools != 0) {
		// Only cumulative flags: credit them to each direction that had packets.
		all := ev.flags | ev.tcpBools
		if r.OrigPkts > 0 {
			of = all
		}
		if r.RespPkts > 0 {
			rf = all // the same set: EVE does not say which side sent what
		}
		have = true
	}
	finishState(r, of, rf, have, ev.state)
	return nil
}

// finishState sets ConnState and History from the flags of each direction.
func finishState(r *flow.Record, of, rf uint8, haveFlags bool, state []byte) {
	switch r.IPProto {
	case 6:
		if haveFlags {
			r.ConnState = tcpState(of, rf)
			r.History = history(of, rf)
		} else {
			r.ConnState = stateFromFlowState(state)
		}
	case 17:
		switch {
		case r.OrigPkts > 0 && r.RespPkts > 0:
			r.ConnState = "SF"
			r.History = "Dd"
		case r.OrigPkts > 0:
			r.ConnState = "S0"
			r.History = "D"
		case r.RespPkts > 0:
			r.ConnState = "SHR"
			r.History = "d"
		default:
			r.ConnState = "OTH"
		}
	default: // ICMP, SCTP, GRE and the rest: Zeek logs OTH without history
		r.ConnState = "OTH"
	}
}

// histFlags are the five flags that matter to history.
const histFlags = tcpFIN | tcpSYN | tcpRST | tcpPSH | tcpACK // 0x1f

// histories holds the history of every combination of histFlags in each
// direction, at (orig flags)<<5 | (resp flags): 1024 substrings of one
// string, built once.
var histories = func() (t [1 << 10]string) {
	var all []byte
	var ends [len(t)]int
	for i := range t {
		all = tcpHistory(all, uint8(i>>5), uint8(i&histFlags))
		ends[i] = len(all)
	}
	s, start := string(all), 0
	for i, end := range ends {
		t[i], start = s[start:end], end
	}
	return t
}()

// history returns the approximate history for the flags of each direction.
func history(of, rf uint8) string {
	return histories[uint16(of&histFlags)<<5|uint16(rf&histFlags)]
}

// tcpState is the conn_state table of the package comment.
func tcpState(of, rf uint8) string {
	oSYN, rSYN := of&tcpSYN != 0, rf&tcpSYN != 0
	switch {
	case oSYN && rSYN:
		switch {
		case of&tcpRST != 0:
			return "RSTO"
		case rf&tcpRST != 0:
			return "RSTR"
		case of&tcpFIN != 0 && rf&tcpFIN != 0:
			return "SF"
		case of&tcpFIN != 0:
			return "S2"
		case rf&tcpFIN != 0:
			return "S3"
		}
		return "S1"
	case oSYN:
		switch {
		case rf&tcpRST != 0:
			return "REJ"
		case of&tcpRST != 0:
			return "RSTOS0"
		case of&tcpFIN != 0:
			return "SH"
		}
		return "S0"
	case rSYN:
		switch {
		case rf&tcpRST != 0:
			return "RSTRH"
		case rf&tcpFIN != 0:
			return "SHR"
		}
	}
	return "OTH"
}

// tcpHistory appends the approximate history of the package comment.
func tcpHistory(b []byte, of, rf uint8) []byte {
	if of&tcpSYN != 0 {
		b = append(b, 'S')
	}
	if rf&tcpSYN != 0 && rf&tcpACK != 0 {
		b = append(b, 'h')
	} else if rf&tcpSYN != 0 {
		b = append(b, 's')
	}
	if of&tcpACK != 0 {
		b = append(b, 'A')
	}
	if of&tcpPSH != 0 {
		b = append(b, 'D')
	}
	if rf&tcpACK != 0 && (rf&(tcpPSH|tcpFIN) != 0) {
		b = append(b, 'a')
	}
	if rf&tcpPSH != 0 {
		b = append(b, 'd')
	}
	if of&tcpFIN != 0 {
		b = append(b, 'F')
	}
	if rf&tcpFIN != 0 {
		b = append(b, 'f')
	}
	if of&tcpRST != 0 {
		b = append(b, 'R')
	}
	if rf&tcpRST != 0 {
		b = append(b, 'r')
	}
	return b
}

func stateFromFlowState(s []byte) string {
	switch string(s) {
	case "new":
		return "S0"
	case "established":
		return "S1"
	case "closed":
		return "SF"
	}
	return "OTH"
}

// proto maps EVE's proto name (or number) to Zeek's name and the IP
// protocol number.
func (p *Parser) proto(b []byte) (string, uint8) {
	switch string(b) {
	case "TCP", "tcp", "6":
		return flow.ProtoTCP, 6
	case "UDP", "udp", "17":
		return flow.ProtoUDP, 17
	case "ICMP", "icmp", "1":
		return flow.ProtoICMP, 1
	case "IPv6-ICMP", "IPV6-ICMP", "ipv6-icmp", "ICMPv6", "58":
		return flow.ProtoICMP, 58
	case "IGMP":
		return flow.ProtoUnknown, 2
	case "GRE":
		return flow.ProtoUnknown, 47
	case "ESP":
		return flow.ProtoUnknown, 50
	case "AH":
		return flow.ProtoUnknown, 51
	case "SCTP":
		return flow.ProtoUnknown, 132
	case "IPIP", "IP-ENCAP":
		return flow.ProtoUnknown, 4
	case "IPv6", "IPV6":
		return flow.ProtoUnknown, 41
	case "PIM":
		return flow.ProtoUnknown, 103
	case "VRRP":
		return flow.ProtoUnknown, 112
	}
	if n, err := jscan.ParseUint(b); err == nil && n <= 255 {
		return flow.ProtoUnknown, uint8(n)
	}
	return flow.ProtoUnknown, 0
}

// service maps app_proto to Zeek's service name.
func (p *Parser) service(b []byte, proto string) string {
	switch string(b) {
	case "", "failed", "unknown":
		return ""
	case "tls":
		return "ssl"
	case "dcerpc":
		return "dce_rpc"
	case "krb5":
		return "krb"
	case "pgsql":
		return "postgresql"
	case "rfb":
		return "vnc"
	case "bittorrent-dht":
		return "bittorrent"
	case "dnp3":
		if proto == flow.ProtoUDP {
			return "dnp3_udp"
		}
		return "dnp3_tcp"
	case "http":
		return "http"
	case "dns":
		return "dns"
	}
	return p.strs.Intern(b)
}

// appendUID appends "E" and id in lower-case hex without leading zeros
// (strconv.AppendUint(b, id, 16) without its general path).
func appendUID(b []byte, id uint64) []byte {
	const digits = "0123456789abcdef"
	var buf [17]byte
	i := len(buf)
	for {
		i--
		buf[i] = digits[id&15]
		id >>= 4
		if id == 0 {
			break
		}
	}
	i--
	buf[i] = 'E'
	return append(b, buf[i:]...)
}

// parseHex8 parses one or two hex digits (Suricata's tcp_flags).
func parseHex8(b []byte) (uint8, bool) {
	if len(b) == 0 || len(b) > 2 {
		return 0, false
	}
	var v uint8
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | (c - '0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | (c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | (c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return v, true
}
