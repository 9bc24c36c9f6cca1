package pcap

// Tunnel decapsulation, following what Zeek's packet analyzers accept. The
// outer packet has been emitted already; the inner ones get Parent and
// Tunnel set.

// udpTunnel looks for a tunnel in the payload of UDP Packet i: by port as
// Zeek's UDP analyzer forwards (destination port first, then source port),
// then, on any port, by the payload checks of Zeek's protocol detection for
// Teredo and AYIYA (once the dpd_teredo and dpd_ayiya signatures). Each
// tunnel parser validates what it decapsulates; anything else stays UDP.
func (d *decoder) udpTunnel(i int, b []byte, cut int, h hop) {
	p := &d.out[i]
	for _, port := range [2]uint16{p.DstPort, p.SrcPort} {
		switch port {
		case udpVXLAN:
			d.vxlan(i, b, cut, h)
			return
		case udpGeneve:
			d.geneve(i, b, cut, h)
			return
		case udpGTPU:
			d.gtp(i, b, cut, h)
			return
		case udpTeredo:
			d.teredo(i, b, cut, h)
			return
		case udpAYIYA:
			d.ayiya(i, b, cut, h)
			return
		case udpGRE:
			d.gre(i, b, cut, h)
			return
		}
	}
	switch {
	case teredoSignature(b):
		d.teredo(i, b, cut, h)
	case len(b) >= 3 && b[1] == 0x52 && b[2] == 0x11: // Zeek's AYIYA protocol detection
		d.ayiya(i, b, cut, h)
	}
}

// teredoSignature is Zeek's dpd_teredo signature: an authentication or
// origin indication header, or an IPv6 header with a Teredo address
// (2001:0000::/32) as source or destination.
func teredoSignature(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	if b[0] == 0 && b[1] <= 1 {
		return true
	}
	if len(b) < 40 || b[0]>>4 != 6 {
		return false
	}
	return b[8] == 0x20 && b[9] == 0x01 && b[10] == 0 && b[11] == 0 ||
		b[24] == 0x20 && b[25] == 0x01 && b[26] == 0 && b[27] == 0
}

// vxlan: an 8-byte header with the I flag (valid VNI), then an Ethernet
// frame.
func (d *decoder) vxlan(i int, b []byte, cut int, h hop) {
	if len(b) >= 8 && b[0]&0x08 == 0 {
		return // Zeek: "VXLAN 'I' flag not set", plain UDP
	}
	if len(b) < 8+14 {
		d.fail(ErrTruncatedTunnel)
		return
	}
	if inner, ok := d.enter(i, h, TunnelVXLAN); ok {
		d.ether(b[8:], cut, inner)
	}
}

// geneve: an 8-byte header plus options, then (for protocol 0x6558) an
// Ethernet frame or (0x0800, 0x86dd) an IP packet.
func (d *decoder) geneve(i int, b []byte, cut int, h hop) {
	if len(b) < 8 {
		d.fail(ErrTruncatedTunnel)
		return
	}
	if b[0]>>6 != 0 { // version
		return
	}
	n := 8 + int(b[0]&0x3f)*4
	if len(b) < n {
		d.fail(ErrTruncatedTunnel)
		return
	}
	inner, ok := d.enter(i, h, TunnelGeneve)
	if !ok {
		return
	}
	switch be.Uint16(b[2:]) {
	case etTransEther:
		d.ether(b[n:], cut, inner)
	case etIPv4, etIPv6:
		d.ip(b[n:], cut, inner)
	}
}

// gtp decodes GTPv1-U: only G-PDU messages (type 255) carry user packets.
func (d *decoder) gtp(i int, b []byte, cut int, h hop) {
	if len(b) < 8 || h.tunnel == TunnelGTP { // Zeek: GTP is never tunnelled in GTP
		return
	}
	flags := b[0]
	if flags>>5 != 1 || flags&0x10 == 0 || b[1] != 0xff { // version 1, GTP (not GTP'), G-PDU
		return
	}
	n := 8
	if flags&0x07 != 0 { // sequence, N-PDU or extension flag: 4 more bytes
		n += 4
		if len(b) < n {
			d.fail(ErrTruncatedTunnel)
			return
		}
		next := b[n-1]
		for flags&0x04 != 0 && next != 0 {
			if len(b) < n+1 {
				d.fail(ErrTruncatedTunnel)
				return
			}
			l := int(b[n]) * 4
			if l == 0 || len(b) < n+l {
				d.fail(ErrTruncatedTunnel)
				return
			}
			next = b[n+l-1]
			n += l
		}
	}
	if len(b) < n+20 {
		d.fail(ErrTruncatedTunnel)
		return
	}
	switch b[n] >> 4 {
	case 4, 6:
	default:
		return // Zeek: "non-IP packet in GTPv1", not decapsulated
	}
	if inner, ok := d.enter(i, h, TunnelGTP); ok {
		d.ip(b[n:], cut, inner)
	}
}

// teredo decodes IPv6 in UDP with optional authentication and origin
// indication headers, validated as Zeek's Teredo analyzer does: the inner
// header must be IPv6 and its payload length must fill the UDP payload
// exactly. Anything else is ordinary UDP.
func (d *decoder) teredo(i int, b []byte, cut int, h hop) {
	if cut > 0 {
		return // the length check cannot be done
	}
	auth, origin := false, false
	for {
		if len(b) < 2 {
			return
		}
		switch be.Uint16(b) {
		case 0: // origin indication
			if origin || len(b) < 8 {
				return
			}
			origin = true
			b = b[8:]
			continue
		case 1: // authentication
			if origin || auth || len(b) < 4 {
				return
			}
			n := 4 + int(b[2]) + int(b[3]) + 8 + 1
			if len(b) < n {
				return
			}
			auth = true
			b = b[n:]
			continue
		}
		break
	}
	if len(b) < 40 || b[0]>>4 != 6 || int(be.Uint16(b[4:]))+40 != len(b) {
		return
	}
	if inner, ok := d.enter(i, h, TunnelTeredo); ok {
		d.ip6(b, 0, inner)
	}
}

// ayiya decodes "Anything In Anything" (RFC draft): a header with an
// identity and a signature, then an IPv4 or IPv6 packet when the opcode is
// 1 (forward).
func (d *decoder) ayiya(i int, b []byte, cut int, h hop) {
	if len(b) < 8 {
		return
	}
	idLen := 1 << (b[0] >> 4)
	sigLen := int(b[1]>>4) * 4
	op := b[2] & 0x0f
	next := b[3]
	n := 8 + idLen + sigLen
	if op != 1 || (next != ipProtoIPIP && next != ipProtoIPv6) {
		return
	}
	if len(b) <= n {
		d.fail(ErrTruncatedTunnel)
		return
	}
	if inner, ok := d.enter(i, h, TunnelAYIYA); ok {
		d.ip(b[n:], cut, inner)
	}
}

// udpGRE is the UDP port of GRE in UDP (RFC 8086).
const udpGRE = 4754

// isAruba reports whether a GRE protocol type is one of those Aruba access
// points use for 802.11 frames, by Zeek's rule.
func isAruba(proto uint16) bool {
	return proto&0x8200 == 0x8200 && proto&0x0f == 0 ||
		proto&0x8300 == 0x8300 && proto&0x0f == 0 && proto <= 0x8370 ||
		proto == 0x9000
}

// GRE flag bits.
const (
	greChecksum = 0x8000
	greRouting  = 0x4000
	greKey      = 0x2000
	greSeq      = 0x1000
	greAck      = 0x0080
)

// gre decodes GRE version 0 (IP, transparent Ethernet, ERSPAN II/III) and
// version 1 (PPTP's enhanced GRE carrying PPP), as Zeek's GRE analyzer does.
func (d *decoder) gre(i int, b []byte, cut int, h hop) {
	if len(b) < 4 {
		d.fail(ErrTruncatedTunnel)
		return
	}
	fv := be.Uint16(b)
	proto := be.Uint16(b[2:])
	ver := fv & 0x7
	if ver > 1 || fv&greRouting != 0 || fv&0x0078 != 0 {
		return // Zeek: unknown_gre_version, gre_routing, unknown_gre_flags
	}
	n := 4
	if fv&(greChecksum|greRouting) != 0 {
		n += 4
	}
	if fv&greKey != 0 {
		n += 4
	}
	if fv&greSeq != 0 {
		n += 4
	}
	if ver == 1 && fv&greAck != 0 {
		n += 4
	}
	if len(b) < n {
		d.fail(ErrTruncatedTunnel)
		return
	}
	b = b[n:]
	inner, ok := d.enter(i, h, TunnelGRE)
	if !ok {
		return
	}
	if ver == 1 {
		// PPTP: PPP address, control and protocol, then exactly one
		// IP packet, as Zeek requires.
		if proto != etPPP || len(b) < 4 {
			return
		}
		want := 0
		switch be.Uint16(b[2:]) {
		case pppIPv4:
			want = 4
		case pppIPv6:
			want = 6
		default:
			return
		}
		if !exactIP(b[4:], cut, want) {
			d.fail(ErrTruncatedTunnel)
			return
		}
		d.ip(b[4:], 0, inner)
		return
	}
	// Zeek hands the payload of GRE version 0 on as a new packet whose
	// wire length is what was captured: a snaplen cut is not carried over.
	cut = 0
	switch proto {
	case etIPv4, etIPv6:
		d.ip(b, cut, inner)
	case etTransEther:
		d.ether(b, cut, inner)
	case etERSPAN2:
		// Type II has an 8-byte header and GRE sequence numbers; type I
		// has neither.
		m := 0
		if fv&greSeq != 0 {
			m = 8
		}
		if len(b) < m {
			d.fail(ErrTruncatedTunnel)
			return
		}
		d.ether(b[m:], cut, inner)
	case etERSPAN3:
		if len(b) < 12 {
			d.fail(ErrTruncatedTunnel)
			return
		}
		m := 12
		if b[11]&0x01 != 0 { // platform-specific sub-header
			m += 8
		}
		if len(b) < m {
			d.fail(ErrTruncatedTunnel)
			return
		}
		d.ether(b[m:], cut, inner)
	case etMPLS:
		d.mpls(b, cut, inner)
	default:
		if isAruba(proto) {
			d.dot11(b, cut, inner) // Aruba access points tunnel 802.11 frames
		}
	}
}
