package pcap

// Link layers and encapsulations below IP: the link types of pcap files,
// 802.1Q/QinQ, MPLS, PPPoE, Cisco FabricPath and VN-Tag, 802.1ah PBB,
// LLC/SNAP, 802.11 with radiotap, NFLOG: what Zeek's packet analyzers
// follow. Each function finds the IP packet and hands it to ip.

import (
	"encoding/binary"

	"github.com/gopacket/gopacket/layers"
)

// Link types not named in gopacket's layers package, or named differently.
const (
	linkTypeNull        = 0
	linkTypeFDDI        = 10
	linkTypePPI         = 192
	linkTypePPP         = 9
	linkTypeRaw         = 101
	linkTypeRawOpenBSD  = 12
	linkTypeRawAlt      = 14
	linkTypeCHDLC       = 104
	linkTypeIEEE80211   = 105
	linkTypeLoop        = 108
	linkTypeLinuxSLL    = 113
	linkTypeRadiotap    = 127
	linkTypePPPoverHDLC = 50
	linkTypeIPv4        = 228
	linkTypeIPv6        = 229
	linkTypeNFLOG       = 239
	linkTypeLinuxSLL2   = 276
)

// EtherTypes the decoder follows.
const (
	etIPv4        = 0x0800
	etIPv6        = 0x86dd
	etVLAN        = 0x8100
	etQinQ        = 0x88a8
	etQinQOld     = 0x9100
	etQinQOld2    = 0x9200
	etMPLS        = 0x8847
	etMPLSMulti   = 0x8848
	etPPPoE       = 0x8864
	etFabricPath  = 0x8903
	etVNTag       = 0x8926
	etPBB         = 0x88e7
	etTransEther  = 0x6558 // transparent Ethernet bridging (GRE)
	etERSPAN2     = 0x88be
	etERSPAN3     = 0x22eb
	etPPP         = 0x880b
	pppIPv4       = 0x0021
	pppIPv6       = 0x0057
	udpVXLAN      = 4789
	udpGeneve     = 6081
	udpTeredo     = 3544
	udpGTPU       = 2152
	udpAYIYA      = 5072
	ipProtoIPIP   = 4
	ipProtoTCP    = 6
	ipProtoUDP    = 17
	ipProtoIPv6   = 41
	ipProtoGRE    = 47
	ipProtoICMP   = 1
	ipProtoICMPv6 = 58
	ipProtoSCTP   = 132
)

// link dispatches on the link type.
func (d *decoder) link(lt layers.LinkType, b []byte, cut int) {
	top := hop{parent: -1}
	switch lt {
	case layers.LinkTypeEthernet:
		d.ether(b, cut, top)
	case linkTypeRaw, linkTypeRawOpenBSD, linkTypeRawAlt, linkTypeIPv4, linkTypeIPv6:
		d.ip(b, cut, top)
	case linkTypeNull:
		if len(b) < 4 {
			d.fail(ErrTruncatedLink)
			return
		}
		// The family is in the capturing host's byte order.
		fam := binary.LittleEndian.Uint32(b)
		if fam > 0xffff {
			fam = be.Uint32(b)
		}
		d.family(fam, b[4:], cut, top)
	case linkTypeLoop:
		if len(b) < 4 {
			d.fail(ErrTruncatedLink)
			return
		}
		d.family(be.Uint32(b), b[4:], cut, top)
	case linkTypeLinuxSLL:
		if len(b) < 16 {
			d.fail(ErrTruncatedLink)
			return
		}
		d.etherType(be.Uint16(b[14:]), b[16:], cut, top)
	case linkTypeLinuxSLL2:
		if len(b) < 20 {
			d.fail(ErrTruncatedLink)
			return
		}
		d.etherType(be.Uint16(b[0:]), b[20:], cut, top)
	case linkTypePPP, linkTypePPPoverHDLC:
		if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
			b = b[2:]
		}
		d.ppp(b, cut, top)
	case linkTypeCHDLC:
		if len(b) < 4 {
			d.fail(ErrTruncatedLink)
			return
		}
		d.etherType(be.Uint16(b[2:]), b[4:], cut, top)
	case linkTypeRadiotap:
		if len(b) < 4 {
			d.fail(ErrTruncatedLink)
			return
		}
		n := int(binary.LittleEndian.Uint16(b[2:]))
		if n < 4 || n > len(b) {
			d.fail(ErrTruncatedLink)
			return
		}
		d.dot11(b[n:], cut, top)
	case linkTypeIEEE80211:
		d.dot11(b, cut, top)
	case linkTypeNFLOG:
		d.nflog(b, cut, top)
	case linkTypeFDDI:
		// Frame control, two addresses, then LLC/SNAP.
		if len(b) < 13 {
			d.fail(ErrTruncatedLink)
			return
		}
		d.etherType(0, b[13:], cut, top)
	case linkTypePPI:
		// Per-Packet Information header wrapping another link type.
		if len(b) < 8 {
			d.fail(ErrTruncatedLink)
			return
		}
		n := int(binary.LittleEndian.Uint16(b[2:]))
		inner := layers.LinkType(binary.LittleEndian.Uint32(b[4:]))
		if n < 8 || n > len(b) || inner == linkTypePPI {
			d.fail(ErrTruncatedLink)
			return
		}
		d.link(inner, b[n:], cut)
	default:
		d.fail(ErrUnknownLinkType)
	}
}

// family decodes a BSD address family (NULL/LOOP link types).
func (d *decoder) family(fam uint32, b []byte, cut int, h hop) {
	switch fam {
	case 2: // AF_INET
		d.ip(b, cut, h)
	case 10, 24, 28, 30: // AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, Darwin
		d.ip(b, cut, h)
	}
}

// ether decodes an Ethernet II / 802.3 frame.
func (d *decoder) ether(b []byte, cut int, h hop) {
	if len(b) < 14 {
		d.fail(ErrTruncatedLink)
		return
	}
	d.etherType(be.Uint16(b[12:]), b[14:], cut, h)
}

// etherType follows a chain of EtherTypes (VLAN, MPLS, PPPoE, FabricPath,
// LLC/SNAP) down to IP.
func (d *decoder) etherType(et uint16, b []byte, cut int, h hop) {
	for range 16 {
		switch et {
		case etIPv4, etIPv6:
			d.ip(b, cut, h)
			return
		case etVLAN, etQinQ, etQinQOld, etQinQOld2:
			if len(b) < 4 {
				d.fail(ErrTruncatedLink)
				return
			}
			h.vlan.add(be.Uint16(b) & 0x0fff)
			et, b = be.Uint16(b[2:]), b[4:]
		case etMPLS, etMPLSMulti:
			d.mpls(b, cut, h)
			return
		case etPPPoE:
			if len(b) < 6 {
				d.fail(ErrTruncatedLink)
				return
			}
			// The session header's length is not applied: Zeek ignores it
			// too, and writers get it wrong.
			d.ppp(b[6:], cut, h)
			return
		case etVNTag:
			// Cisco VN-Tag: four bytes of tag, then the EtherType.
			if len(b) < 6 {
				d.fail(ErrTruncatedLink)
				return
			}
			et, b = be.Uint16(b[4:]), b[6:]
		case etPBB:
			// 802.1ah provider backbone bridging: the I-TAG, then the
			// customer's Ethernet frame.
			if len(b) < 4+14 {
				d.fail(ErrTruncatedLink)
				return
			}
			et, b = be.Uint16(b[4+12:]), b[4+14:]
		case etFabricPath:
			// FTag/TTL, then the inner MAC addresses and EtherType.
			if len(b) < 16 {
				d.fail(ErrTruncatedLink)
				return
			}
			et, b = be.Uint16(b[14:]), b[16:]
		default:
			if et >= 0x0600 {
				return // not IP: ARP, LLDP, ...
			}
			// 802.3 length: LLC, IP only through SNAP.
			if len(b) < 8 || b[0] != 0xaa || b[1] != 0xaa || b[2] != 0x03 {
				return
			}
			et, b = be.Uint16(b[6:]), b[8:]
		}
	}
	d.fail(ErrTruncatedLink)
}

// mpls pops an MPLS label stack and guesses the payload from its first
// nibble, as Zeek does.
func (d *decoder) mpls(b []byte, cut int, h hop) {
	for {
		if len(b) < 4 {
			d.fail(ErrTruncatedLink)
			return
		}
		bottom := b[2]&0x01 != 0
		b = b[4:]
		if bottom {
			break
		}
	}
	if len(b) == 0 {
		d.fail(ErrTruncatedLink)
		return
	}
	switch b[0] >> 4 {
	case 4, 6:
		d.ip(b, cut, h)
	}
}

// ppp decodes a PPP protocol field and its payload.
func (d *decoder) ppp(b []byte, cut int, h hop) {
	if len(b) < 2 {
		d.fail(ErrTruncatedLink)
		return
	}
	switch be.Uint16(b) {
	case pppIPv4, pppIPv6:
		d.ip(b[2:], cut, h)
	}
}

// dot11 decodes an 802.11 data frame with LLC/SNAP, or the subframes of an
// A-MSDU, as Zeek's IEEE802_11 analyzer does. Unlike Zeek it also skips the
// HT Control field of +HTC QoS frames.
func (d *decoder) dot11(b []byte, cut int, h hop) {
	n := 24
	if len(b) <= n {
		d.fail(ErrTruncatedLink)
		return
	}
	fc0, fc1 := b[0], b[1]
	if fc0>>2&0x02 == 0 || fc0>>4&0x04 != 0 { // management, control, or no body
		return
	}
	if fc1&0x03 == 0x03 { // to and from DS: address 4
		n += 6
	}
	if len(b) <= n {
		d.fail(ErrTruncatedLink)
		return
	}
	amsdu := false
	if fc0>>4&0x08 != 0 { // QoS
		amsdu = b[n]&0x80 != 0
		if fc1&0x40 != 0 { // protected: encrypted
			return
		}
		n += 2
		if fc1&0x80 != 0 { // +HTC
			n += 4
		}
	}
	if len(b) <= n {
		d.fail(ErrTruncatedLink)
		return
	}
	b = b[n:]
	if !amsdu {
		d.llcSNAP(b, cut, h)
		return
	}
	// A-MSDU: subframes of destination, source, length, then LLC/SNAP;
	// each but the last padded to a multiple of four bytes.
	for len(b) > 0 {
		if len(b) < 14 {
			d.fail(ErrTruncatedLink)
			return
		}
		l := int(be.Uint16(b[12:]))
		if len(b) < 14+l {
			d.fail(ErrTruncatedLink)
			return
		}
		d.llcSNAP(b[14:14+l], 0, h)
		b = b[14+l:]
		if pad := (4 - (14+l)%4) % 4; len(b) >= pad {
			b = b[pad:]
		}
	}
}

// llcSNAP decodes an LLC/SNAP header with a zero OUI (encapsulated
// Ethernet) and what its EtherType names.
func (d *decoder) llcSNAP(b []byte, cut int, h hop) {
	if len(b) < 8 {
		d.fail(ErrTruncatedLink)
		return
	}
	if b[0] != 0xaa || b[1] != 0xaa || b[2] != 0x03 || b[3] != 0 || b[4] != 0 || b[5] != 0 {
		return
	}
	d.etherType(be.Uint16(b[6:]), b[8:], cut, h)
}

// nflog decodes a Linux NFLOG record: a 4-byte header and TLVs, one of
// which (type 9) holds the packet.
func (d *decoder) nflog(b []byte, cut int, h hop) {
	if len(b) < 4 {
		d.fail(ErrTruncatedLink)
		return
	}
	fam := b[0]
	if b[1] != 0 { // version: Zeek knows only 0
		return
	}
	b = b[4:]
	for len(b) >= 4 {
		n := int(binary.LittleEndian.Uint16(b))
		typ := binary.LittleEndian.Uint16(b[2:])
		if n < 4 {
			d.fail(ErrTruncatedLink)
			return
		}
		if typ&0x7fff == 9 { // NFULA_PAYLOAD
			if n > len(b) {
				n = len(b)
			} else {
				cut = 0
			}
			switch fam {
			case 2, 10:
				d.ip(b[4:n], cut, h)
			}
			return
		}
		n = (n + 3) &^ 3
		if n > len(b) {
			break
		}
		b = b[n:]
	}
	d.fail(ErrTruncatedLink)
}
