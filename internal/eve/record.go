package eve

import (
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/jscan"
	"github.com/mlads/mlads/internal/logline"
)

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
