package pcap

// This file is the contract between the two halves of the package: the
// decoder (reader.go, decode*.go) turns one captured frame into a short list of
// Packets, and the flow table (table*.go) folds them into connections.

// Packet is one IP-level unit found in a frame: the outer packet of a frame,
// or a packet carried inside a tunnel (GRE, VXLAN, Teredo, GTP-U, AYIYA,
// IP-in-IP). A frame that holds a tunnel yields the outer packet first and
// the inner one after it, with Parent pointing back.
//
// Ownership: Payload aliases the decoder's frame buffer and is valid only until
// the decoder is asked for the next frame. The table must copy what it keeps.
type Packet struct {
	TS int64 // capture time, nanoseconds since the Unix epoch

	// Addresses in 16-byte form; IPv4 addresses are IPv4-mapped
	// (::ffff:a.b.c.d) and V6 is false.
	Src, Dst [16]byte
	V6       bool

	IPProto uint8  // 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, 132 SCTP, ...
	SrcPort uint16 // ICMP: the type
	DstPort uint16 // ICMP: the code
	// SCTP ports are set too, although Zeek logs SCTP as unknown_transport
	// with ports 0 (core.unknown-ip-protocol): zero them to match Zeek.
	// Other protocols have ports 0.

	// IPLen is the packet's length at the IP layer as the header states it
	// (IPv4 total length; IPv6 payload length + 40), what Zeek counts in
	// orig_ip_bytes/resp_ip_bytes. For a reassembled fragment set it is the
	// length of the whole datagram.
	IPLen uint32

	// PayloadLen is the transport payload length implied by the headers
	// (IP length minus IP and transport headers), which may exceed
	// len(Payload) when the capture cut the packet at its snaplen. For UDP
	// it is the UDP length field minus 8, as Zeek counts orig_bytes, even
	// when that disagrees with the IP length.
	PayloadLen uint32
	Payload    []byte

	// TCP fields, valid when IPProto == 6.
	TCPFlags uint8 // FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80
	Seq, Ack uint32
	Window   uint16
	// WScale is the window-scale option of a SYN, or -1 when absent.
	WScale int8

	// BadChecksum is set when the transport checksum was verified and is
	// wrong (Zeek logs such packets with history 'C' and does not analyse them).
	BadChecksum bool

	// VLAN and InnerVLAN are the 802.1Q tags (outer, then inner for QinQ)
	// of the link-layer frame this packet was found in, 0 when absent. As in
	// Zeek, a tunnelled packet has the tags of its own inner Ethernet frame
	// (VXLAN, Geneve, GRE TEB), not those of the outer frame.
	VLAN, InnerVLAN uint16

	// Parent is the index, in the same frame's packet list, of the packet
	// whose payload carried this one; -1 for the outermost packet.
	Parent int8
	// Tunnel names the encapsulation that carried this packet ("", "gre",
	// "vxlan", "geneve", "teredo", "gtpv1", "ayiya", "ip"). For tunnels over
	// IP (GRE, IP-in-IP) Zeek names the parent by a tunnel id, not a conn.log
	// uid, and logs no connection for the carrier packet (IPProto 47, 4, 41).
	Tunnel string
}

// TCP flag bits of Packet.TCPFlags.
const (
	FlagFIN = 0x01
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagPSH = 0x08
	FlagACK = 0x10
	FlagURG = 0x20
	FlagECE = 0x40
	FlagCWR = 0x80
)
