package pcap

// udpPacket follows Zeek's UDP analyzer.
func (t *Table) udpPacket(f *conn, p *Packet, isOrig bool) {
	s := &f.resp
	if isOrig {
		s = &f.orig
	}
	// Zeek counts the packet (ConnSize) before checking the checksum.
	s.pkts++
	s.ipBytes += uint64(p.IPLen)
	if p.BadChecksum && t.cfg.VerifyChecksums {
		if isOrig {
			f.scaledHistory('C', &s.chkCnt)
		} else {
			f.scaledHistory('c', &s.chkCnt)
		}
		// The inactivity timer runs from the last good packet, or from
		// the first packet when none was good: Zeek arms it when the
		// connection is made. Left unset, a connection made by a bad
		// packet would end at the next tick of the clock, before the
		// connections that started earlier.
		f.deadline = f.last + int64(t.cfg.UDPInactivity)
		return
	}
	f.last = p.TS
	if isOrig {
		f.checkHistory(histOrigDataUDP, 'D')
	} else {
		f.checkHistory(histRespDataUDP, 'd')
	}
	if s.size < 0 {
		s.size = 0
	}
	s.size += int64(p.PayloadLen)
	t.inspect(f, p, isOrig)
	f.deadline = f.last + int64(t.cfg.UDPInactivity)
}

// otherPacket handles ICMP and any other IP protocol.
func (t *Table) otherPacket(f *conn, p *Packet, isOrig bool) {
	s := &f.resp
	if isOrig {
		s = &f.orig
	}
	s.pkts++
	s.ipBytes += uint64(p.IPLen)
	f.last = p.TS
	to := t.cfg.UnknownInactivity
	if f.proto == ipProtoICMP || f.proto == ipProtoICMPv6 {
		to = t.cfg.ICMPInactivity
		if s.size < 0 {
			s.size = 0
		}
		s.size += int64(p.PayloadLen)
	}
	f.deadline = f.last + int64(to)
}
