package flow

import (
	"crypto/sha1" // Community ID v1 is defined on SHA-1: an identifier, not a security control
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers that the Community ID and the writers treat specially.
const (
	IPProtoICMP   uint8 = 1
	IPProtoTCP    uint8 = 6
	IPProtoUDP    uint8 = 17
	IPProtoICMPv6 uint8 = 58
	IPProtoSCTP   uint8 = 132
)

// communityIDVersion prefixes every Community ID v1 string.
const communityIDVersion = "1:"

// CommunityIDLen is the length of a base64 Community ID v1 string
// ("1:" and 28 base64 characters). AppendCommunityID never needs more room.
const CommunityIDLen = len(communityIDVersion) + 28

// CommunityID returns the Community ID v1 of a flow
// (https://github.com/corelight/community-id-spec), base64-encoded as
// Zeek, Suricata, Arkime and Elastic write it, e.g. "1:wCb3OG7yAFWelaUydu0D+125CLM=".
//
// proto is the IP protocol number. For TCP, UDP and SCTP the ports are
// hashed; for ICMP and ICMPv6 srcPort is the message type and dstPort the
// code, mapped to port equivalents the way Zeek does (a request and its
// reply get the same ID; one-way messages such as "destination unreachable"
// are hashed in the direction given). Other protocols are hashed without
// ports, and the port arguments are ignored.
//
// IPv4-mapped IPv6 addresses are hashed as IPv4, as Zeek does. It returns
// "" when an address is invalid or the two are of different families:
// the specification allows an empty ID for flows it cannot cover.
func CommunityID(seed uint16, src, dst netip.Addr, proto uint8, srcPort, dstPort uint16) string {
	var buf [CommunityIDLen]byte
	return string(AppendCommunityID(buf[:0], seed, src, dst, proto, srcPort, dstPort))
}

// AppendCommunityID appends the Community ID v1 of a flow to b and returns
// the extended slice; see CommunityID for the arguments. It appends nothing
// when CommunityID would return "". It does not allocate when b has
// CommunityIDLen bytes of spare capacity.
func AppendCommunityID(b []byte, seed uint16, src, dst netip.Addr, proto uint8, srcPort, dstPort uint16) []byte {
	sum, ok := communityIDSum(seed, src, dst, proto, srcPort, dstPort)
	if !ok {
		return b
	}
	b = append(b, communityIDVersion...)
	return appendBase64Sum(b, &sum)
}

// appendBase64Sum appends the standard base64 of a SHA-1 digest (28
// characters, one '='): the same as base64.StdEncoding.AppendEncode, in a
// third of its time for this one fixed length.
func appendBase64Sum(b []byte, s *[sha1.Size]byte) []byte {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var out [28]byte
	for i := range 6 {
		v := uint(s[3*i])<<16 | uint(s[3*i+1])<<8 | uint(s[3*i+2])
		out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = enc[v>>18&63], enc[v>>12&63], enc[v>>6&63], enc[v&63]
	}
	v := uint(s[18])<<16 | uint(s[19])<<8
	out[24], out[25], out[26], out[27] = enc[v>>18&63], enc[v>>12&63], enc[v>>6&63], '='
	return append(b, out[:]...)
}

// AppendCommunityID appends the record's Community ID to b: r.CommunityID
// when its source carried one, else the Community ID v1 (seed 0) of its
// addresses, ports and IP protocol (see Record.IPProtocol), or nothing when
// the record has no known IP protocol or no valid address pair.
//
// The ID is derived data: readers of logs without a community_id column
// leave CommunityID empty, and the writers and alerts derive it here, when
// a record is written out, straight into their output buffer. A record that
// is read, scored and never written costs no hash.
func (r *Record) AppendCommunityID(b []byte) []byte {
	if r.CommunityID != "" {
		return append(b, r.CommunityID...)
	}
	proto := r.IPProtocol()
	if proto == 0 {
		return b
	}
	return AppendCommunityID(b, 0, r.OrigH, r.RespH, proto, r.OrigP, r.RespP)
}

// CommunityIDOrDerived returns what AppendCommunityID appends, as a string.
func (r *Record) CommunityIDOrDerived() string {
	if r.CommunityID != "" {
		return r.CommunityID
	}
	var buf [CommunityIDLen]byte
	return string(r.AppendCommunityID(buf[:0]))
}

// IPProtocol returns r.IPProto when it is set. Otherwise it derives the
// number from Proto: 6 for "tcp", 17 for "udp", and for "icmp" 58 when the
// originator address is IPv6 or 1 when it is IPv4 (Zeek logs both as
// "icmp"). It returns 0 when the protocol is unknown. Protocol 0 (IPv6
// hop-by-hop options) never identifies a connection, so 0 means unset.
func (r *Record) IPProtocol() uint8 {
	if r.IPProto != 0 {
		return r.IPProto
	}
	switch r.Proto {
	case ProtoTCP:
		return IPProtoTCP
	case ProtoUDP:
		return IPProtoUDP
	case ProtoICMP:
		if a := r.OrigH.Unmap(); a.Is6() {
			return IPProtoICMPv6
		}
		return IPProtoICMP
	}
	return 0
}

// communityIDSum returns the SHA-1 digest that Community ID v1 renders,
// and false when the flow cannot be hashed.
func communityIDSum(seed uint16, src, dst netip.Addr, proto uint8, sport, dport uint16) (sum [sha1.Size]byte, ok bool) {
	src, dst = src.Unmap(), dst.Unmap()
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return sum, false
	}

	hasPorts, oneWay := false, false
	switch proto {
	case IPProtoTCP, IPProtoUDP, IPProtoSCTP:
		hasPorts = true
	case IPProtoICMP:
		hasPorts = true
		sport, dport, oneWay = icmpPorts(icmp4Counterpart, sport, dport)
	case IPProtoICMPv6:
		hasPorts = true
		sport, dport, oneWay = icmpPorts(icmp6Counterpart, sport, dport)
	default:
		sport, dport = 0, 0
	}

	// Order the endpoints so the smaller address (then port) comes first,
	// which makes both directions of a flow hash alike. One-way ICMP
	// messages keep the direction they were seen in. Addresses compare as
	// big-endian numbers: IPv4 as one word, IPv6 as two.
	//
	// seed(2) addr(4|16) addr(4|16) proto(1) pad(1) [sport(2) dport(2)]:
	// always a multiple of 4 bytes, at most 40.
	var in [40]byte
	in[0], in[1] = byte(seed>>8), byte(seed)
	var n int // bytes written
	if src.Is4() {
		a4, b4 := src.As4(), dst.As4()
		a, b := binary.BigEndian.Uint32(a4[:]), binary.BigEndian.Uint32(b4[:])
		if !oneWay && (b < a || b == a && dport < sport) {
			a, b = b, a
			sport, dport = dport, sport
		}
		binary.BigEndian.PutUint32(in[2:], a)
		binary.BigEndian.PutUint32(in[6:], b)
		n = 10
	} else {
		a16, b16 := src.As16(), dst.As16()
		ah, al := binary.BigEndian.Uint64(a16[:8]), binary.BigEndian.Uint64(a16[8:])
		bh, bl := binary.BigEndian.Uint64(b16[:8]), binary.BigEndian.Uint64(b16[8:])
		if !oneWay && (bh < ah || bh == ah && (bl < al || bl == al && dport < sport)) {
			ah, al, bh, bl = bh, bl, ah, al
			sport, dport = dport, sport
		}
		binary.BigEndian.PutUint64(in[2:], ah)
		binary.BigEndian.PutUint64(in[10:], al)
		binary.BigEndian.PutUint64(in[18:], bh)
		binary.BigEndian.PutUint64(in[26:], bl)
		n = 34
	}
	in[n], in[n+1] = proto, 0
	n += 2
	if hasPorts {
		in[n], in[n+1] = byte(sport>>8), byte(sport)
		in[n+2], in[n+3] = byte(dport>>8), byte(dport)
		n += 4
	}
	return sha1.Sum(in[:n]), true
}

// icmpPorts maps an ICMP type and code to the port pair Community ID hashes:
// (type, counterpart type) for request/reply types, and (type, code) with
// oneWay set for everything else. This is Zeek's ICMP4_counterpart and
// ICMP6_counterpart, as pycommunityid implements them.
func icmpPorts(counterpart func(uint8) (uint8, bool), typ, code uint16) (sport, dport uint16, oneWay bool) {
	if typ <= 0xff {
		if c, ok := counterpart(uint8(typ)); ok {
			return typ, uint16(c), false
		}
	}
	return typ, code, true
}

// icmp4Counterpart returns the ICMPv4 type that answers (or is answered by) t.
func icmp4Counterpart(t uint8) (uint8, bool) {
	switch t {
	case 8: // echo request
		return 0, true
	case 0: // echo reply
		return 8, true
	case 13: // timestamp
		return 14, true
	case 14: // timestamp reply
		return 13, true
	case 15: // information request
		return 16, true
	case 16: // information reply
		return 15, true
	case 10: // router solicitation
		return 9, true
	case 9: // router advertisement
		return 10, true
	case 17: // address mask request
		return 18, true
	case 18: // address mask reply
		return 17, true
	}
	return 0, false
}

// icmp6Counterpart returns the ICMPv6 type that answers (or is answered by) t.
func icmp6Counterpart(t uint8) (uint8, bool) {
	switch t {
	case 128: // echo request
		return 129, true
	case 129: // echo reply
		return 128, true
	case 130: // multicast listener query
		return 131, true
	case 131: // multicast listener report
		return 130, true
	case 133: // router solicitation
		return 134, true
	case 134: // router advertisement
		return 133, true
	case 135: // neighbor solicitation
		return 136, true
	case 136: // neighbor advertisement
		return 135, true
	case 139: // who-are-you request
		return 140, true
	case 140: // who-are-you reply
		return 139, true
	case 144: // home agent address discovery request
		return 145, true
	case 145: // home agent address discovery reply
		return 144, true
	}
	return 0, false
}
