// Command gen writes testdata/sample.pcap, the small capture the README's
// first command runs on. The traffic is synthetic and deterministic: half an
// hour of an office network (DNS, HTTP, TLS, SSH, NTP) with three things a
// defender wants to hear about mixed in: a SYN port scan, a host beaconing
// to an outside server every minute, and a large upload.
//
// Regenerate with: go run ./testdata/gen -out testdata/sample.pcap
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

type pkt struct {
	ts   time.Time
	data []byte
}

type gen struct {
	rng  *rand.Rand
	pkts []pkt
}

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
)

func (g *gen) add(ts time.Time, ip *layers.IPv4, l4 gopacket.SerializableLayer, payload []byte) {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	ip.Version, ip.IHL, ip.TTL = 4, 5, 64
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	var err error
	switch l := l4.(type) {
	case *layers.TCP:
		_ = l.SetNetworkLayerForChecksum(ip)
		err = gopacket.SerializeLayers(buf, opts, eth, ip, l, gopacket.Payload(payload))
	case *layers.UDP:
		_ = l.SetNetworkLayerForChecksum(ip)
		err = gopacket.SerializeLayers(buf, opts, eth, ip, l, gopacket.Payload(payload))
	default:
		err = gopacket.SerializeLayers(buf, opts, eth, ip, l4, gopacket.Payload(payload))
	}
	if err != nil {
		panic(err)
	}
	g.pkts = append(g.pkts, pkt{ts, append([]byte(nil), buf.Bytes()...)})
}

func ip4(s string) net.IP { return net.ParseIP(s).To4() }

// tcpConn writes a whole TCP connection: handshake, request/response
// exchanges and a FIN close.
func (g *gen) tcpConn(start time.Time, c, s string, cport, sport uint16, exchanges [][2][]byte, rtt time.Duration) {
	cs, ss := g.rng.Uint32(), g.rng.Uint32()
	t := start
	send := func(fromClient bool, flags string, payload []byte) {
		src, dst, sp, dp, seq, ack := c, s, cport, sport, cs, ss
		if !fromClient {
			src, dst, sp, dp, seq, ack = s, c, sport, cport, ss, cs
		}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Seq: seq, Ack: ack, Window: 64240}
		for _, f := range flags {
			switch f {
			case 'S':
				tcp.SYN = true
			case 'A':
				tcp.ACK = true
			case 'F':
				tcp.FIN = true
			case 'P':
				tcp.PSH = true
			case 'R':
				tcp.RST = true
			}
		}
		if !tcp.ACK {
			tcp.Ack = 0
		}
		g.add(t, &layers.IPv4{SrcIP: ip4(src), DstIP: ip4(dst), Protocol: layers.IPProtocolTCP, Id: uint16(g.rng.Uint32())}, tcp, payload)
		adv := uint32(len(payload))
		if tcp.SYN || tcp.FIN {
			adv++
		}
		if fromClient {
			cs += adv
		} else {
			ss += adv
		}
		t = t.Add(rtt / 2)
	}
	send(true, "S", nil)
	send(false, "SA", nil)
	send(true, "A", nil)
	for _, ex := range exchanges {
		for off := 0; off < len(ex[0]); off += 1448 {
			send(true, "PA", ex[0][off:min(off+1448, len(ex[0]))])
		}
		send(false, "A", nil)
		for off := 0; off < len(ex[1]); off += 1448 {
			send(false, "PA", ex[1][off:min(off+1448, len(ex[1]))])
		}
		send(true, "A", nil)
	}
	send(true, "FA", nil)
	send(false, "FA", nil)
	send(true, "A", nil)
}

func dnsQuery(id uint16, name string, response bool) []byte {
	b := make([]byte, 12, 64)
	binary.BigEndian.PutUint16(b[0:], id)
	if response {
		binary.BigEndian.PutUint16(b[2:], 0x8180)
		binary.BigEndian.PutUint16(b[6:], 1)
	} else {
		binary.BigEndian.PutUint16(b[2:], 0x0100)
	}
	binary.BigEndian.PutUint16(b[4:], 1)
	for _, label := range splitDots(name) {
		b = append(b, byte(len(label)))
		b = append(b, label...)
	}
	b = append(b, 0, 0, 1, 0, 1)
	if response {
		b = append(b, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 93, 184, 216, 34)
	}
	return b
}

func splitDots(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func (g *gen) dns(t time.Time, client string, cport uint16, name string) {
	id := uint16(g.rng.Uint32())
	g.add(t, &layers.IPv4{SrcIP: ip4(client), DstIP: ip4("10.1.0.53"), Protocol: layers.IPProtocolUDP},
		&layers.UDP{SrcPort: layers.UDPPort(cport), DstPort: 53}, dnsQuery(id, name, false))
	g.add(t.Add(time.Duration(2+g.rng.IntN(20))*time.Millisecond), &layers.IPv4{SrcIP: ip4("10.1.0.53"), DstIP: ip4(client), Protocol: layers.IPProtocolUDP},
		&layers.UDP{SrcPort: 53, DstPort: layers.UDPPort(cport)}, dnsQuery(id, name, true))
}

func (g *gen) bytesN(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return b
}

func tlsHello() []byte {
	// A TLS 1.2 record header and the start of a ClientHello: enough for
	// content-based service detection.
	h := []byte{0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03}
	return append(h, make([]byte, 200)...)
}

func main() {
	out := flag.String("out", "testdata/sample.pcap", "where to write the capture")
	flag.Parse()
	g := &gen{rng: rand.New(rand.NewPCG(7, 11))}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	const span = 30 * time.Minute

	clients := []string{"10.1.0.21", "10.1.0.22", "10.1.0.23", "10.1.0.24", "10.1.0.25", "10.1.0.26"}
	sites := []string{"example.com", "intranet.corp", "updates.vendor.net", "mail.corp", "wiki.corp"}
	port := uint16(40000)
	nextPort := func() uint16 { port++; return port }

	// Ordinary office traffic.
	for t := t0; t.Before(t0.Add(span)); t = t.Add(time.Duration(600+g.rng.IntN(3400)) * time.Millisecond) {
		c := clients[g.rng.IntN(len(clients))]
		site := sites[g.rng.IntN(len(sites))]
		g.dns(t, c, nextPort(), site)
		t1 := t.Add(30 * time.Millisecond)
		rtt := time.Duration(1+g.rng.IntN(30)) * time.Millisecond
		switch r := g.rng.IntN(10); {
		case r < 5:
			req := []byte("GET /" + site + " HTTP/1.1\r\nHost: " + site + "\r\nUser-Agent: Mozilla/5.0\r\n\r\n")
			resp := append([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"), g.bytesN(300+g.rng.IntN(4000))...)
			g.tcpConn(t1, c, "10.1.0.10", nextPort(), 80, [][2][]byte{{req, resp}}, rtt)
		case r < 9:
			g.tcpConn(t1, c, "93.184.216.34", nextPort(), 443, [][2][]byte{{tlsHello(), g.bytesN(1500 + g.rng.IntN(6000))}}, rtt*3)
		default:
			g.tcpConn(t1, c, "10.1.0.30", nextPort(), 22, [][2][]byte{{[]byte("SSH-2.0-OpenSSH_9.6\r\n"), []byte("SSH-2.0-OpenSSH_9.2p1\r\n")}, {g.bytesN(900), g.bytesN(1200)}}, rtt)
		}
	}
	// NTP every 64 s from the gateway.
	for t := t0; t.Before(t0.Add(span)); t = t.Add(64 * time.Second) {
		ntp := make([]byte, 48)
		ntp[0] = 0x23
		g.add(t, &layers.IPv4{SrcIP: ip4("10.1.0.1"), DstIP: ip4("192.0.2.123"), Protocol: layers.IPProtocolUDP}, &layers.UDP{SrcPort: 123, DstPort: 123}, ntp)
		ntp2 := append([]byte(nil), ntp...)
		ntp2[0] = 0x24
		g.add(t.Add(20*time.Millisecond), &layers.IPv4{SrcIP: ip4("192.0.2.123"), DstIP: ip4("10.1.0.1"), Protocol: layers.IPProtocolUDP}, &layers.UDP{SrcPort: 123, DstPort: 123}, ntp2)
	}

	// 1. A SYN scan of the web server's first 1024 ports, at minute 12.
	ts := t0.Add(12 * time.Minute)
	for p := uint16(1); p <= 1024; p++ {
		sp := uint16(50000 + g.rng.IntN(10000))
		g.add(ts, &layers.IPv4{SrcIP: ip4("10.1.0.66"), DstIP: ip4("10.1.0.10"), Protocol: layers.IPProtocolTCP},
			&layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(p), SYN: true, Seq: g.rng.Uint32(), Window: 1024}, nil)
		reply := &layers.TCP{SrcPort: layers.TCPPort(p), DstPort: layers.TCPPort(sp), RST: true, ACK: true, Ack: 1}
		if p == 22 || p == 80 {
			reply = &layers.TCP{SrcPort: layers.TCPPort(p), DstPort: layers.TCPPort(sp), SYN: true, ACK: true, Seq: g.rng.Uint32(), Window: 64240}
		}
		g.add(ts.Add(300*time.Microsecond), &layers.IPv4{SrcIP: ip4("10.1.0.10"), DstIP: ip4("10.1.0.66"), Protocol: layers.IPProtocolTCP}, reply, nil)
		ts = ts.Add(2 * time.Millisecond)
	}

	// 2. A beacon: 10.1.0.77 calls 203.0.113.50:8443 every 60 s ± 0.5 s with the same small exchange.
	for t := t0.Add(30 * time.Second); t.Before(t0.Add(span)); t = t.Add(60*time.Second + time.Duration(g.rng.IntN(1000)-500)*time.Millisecond) {
		g.tcpConn(t, "10.1.0.77", "203.0.113.50", nextPort(), 8443, [][2][]byte{{g.bytesN(310), g.bytesN(88)}}, 40*time.Millisecond)
	}

	// 3. A large upload: 2 MB to an outside host, far above any other flow.
	g.tcpConn(t0.Add(21*time.Minute), "10.1.0.24", "198.51.100.9", nextPort(), 443, [][2][]byte{{append(tlsHello(), g.bytesN(2<<20)...), g.bytesN(600)}}, 2*time.Millisecond)

	sort.SliceStable(g.pkts, func(i, j int) bool { return g.pkts[i].ts.Before(g.pkts[j].ts) })
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, p := range g.pkts {
		ci := gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(p.data), Length: len(p.data)}
		if err := w.WritePacket(ci, p.data); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "wrote %s: %d packets\n", *out, len(g.pkts))
}
