package pcap

import (
	"encoding/binary"
	"testing"

	"github.com/mlads/mlads/internal/flow"
)

// FuzzTable drives the table with arbitrary packet sequences over a small
// address space (so packets collide into connections, reuse and time out)
// and checks its invariants: no panic, the flow limit holds, every packet
// is counted in exactly one emitted record, and records are well formed.
func FuzzTable(f *testing.F) {
	f.Add([]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"))
	f.Add([]byte("SYN-SYNACK-ACK-DATA-FIN-FIN-RST-RST-and-some-more-bytes-to-vary"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := DefaultTableConfig()
		cfg.MaxFlows = 8
		cfg.VerifyChecksums = false
		var counted uint64
		tab := NewTable(cfg, func(r *flow.Record) error {
			counted += r.OrigPkts + r.RespPkts
			if len(r.UID) != 18 || r.ConnState == "" {
				t.Fatalf("malformed record %+v", r)
			}
			return nil
		})
		ts := int64(1e18)
		var added uint64
		for len(data) >= 8 {
			b := data[:8]
			data = data[8:]
			var p Packet
			p.Src = v4mapped(10, 0, 0, b[0]&3)
			p.Dst = v4mapped(10, 0, 0, b[1]&3)
			switch b[2] % 4 {
			case 0, 1:
				p.IPProto = ipProtoTCP
			case 2:
				p.IPProto = ipProtoUDP
			default:
				p.IPProto = ipProtoICMP
			}
			ports := [4]uint16{80, 53, 1024, 40000}
			p.SrcPort, p.DstPort = ports[b[3]&3], ports[(b[3]>>2)&3]
			p.TCPFlags = b[4]
			p.Seq = uint32(b[5]) << uint(b[6]&31)
			p.Ack = binary.BigEndian.Uint32([]byte{b[6], b[5], b[7], b[4]})
			p.PayloadLen = uint32(b[7] & 0x3f)
			p.Payload = make([]byte, p.PayloadLen&0x1f) // sometimes cut, like a snaplen
			p.IPLen = 40 + p.PayloadLen
			p.Window = uint16(b[6]) & 1
			p.WScale = int8(b[5]&0xf) - 1
			p.Parent = -1
			ts += int64(b[7]) * int64(b[7]) * 1e7 // up to ~11 minutes between packets
			if b[2]&0x80 != 0 {
				ts -= 1e6 // sometimes a little out of order
			}
			p.TS = ts
			if _, err := tab.Add(&p, FlowRef{}); err != nil {
				t.Fatal(err)
			}
			added++
			if n := tab.Stats().Active; n > cfg.MaxFlows {
				t.Fatalf("%d flows held, limit %d", n, cfg.MaxFlows)
			}
		}
		if err := tab.Flush(); err != nil {
			t.Fatal(err)
		}
		if counted != added || tab.Stats().Active != 0 {
			t.Fatalf("records count %d packets, %d were added; %d still held", counted, added, tab.Stats().Active)
		}
	})
}

// FuzzServiceHints feeds arbitrary payloads to the content classifier and
// the FTP/IRC announcement parsers on the ports that enable each rule.
func FuzzServiceHints(f *testing.F) {
	f.Add([]byte("227 Entering Passive Mode (10,0,0,1,4,1)\r\n"), uint16(21))
	f.Add([]byte("PRIVMSG bob :\x01DCC SEND file 167772161 4000 100\x01"), uint16(6667))
	f.Add([]byte("\x16\x03\x01\x00\x10\x01\x00\x00\x0c\x03\x03"), uint16(443))
	f.Add([]byte("\x00\x01\x02\x03\x60\x00\x00\x00\x00\x00\x3b\x40"), uint16(3544))
	f.Fuzz(func(t *testing.T, b []byte, port uint16) {
		for _, tcp := range []bool{true, false} {
			for _, orig := range []bool{true, false} {
				_ = classify(b, tcp, port, 40000, orig)
				_ = classify(b, tcp, 40000, port, orig)
			}
		}
		_, _, _ = parseFTPHostPort(b, true)
		_, _, _ = parseFTPHostPort(b, false)
		_, _ = parseEPSV(b)
		_, _, _ = parseDCCSend(b)
		_, _, _ = parseEPRT(b)
		tab := NewTable(DefaultTableConfig(), nil)
		var c conn
		c.proto = ipProtoTCP
		c.svcHint.o = h220 | hIRCCmd
		c.svcHint.scanLeft = 1
		tab.scanAnnouncements(&c, b)
	})
}
