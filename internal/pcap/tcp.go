package pcap

// This file follows Zeek's TCP analysis (TCPSessionAdapter, TCP_Endpoint,
// TCP_Reassembler's gap accounting and conn_state() in
// base/protocols/conn/main.zeek) closely enough that conn_state, history,
// orig_bytes/resp_bytes and missed_bytes come out as Zeek writes them. It is
// a re-implementation from Zeek's documented behaviour, not a copy.

// tcpState is a TCP endpoint's state as Zeek tracks it.
type tcpState uint8

// Zeek's TCP endpoint states.
const (
	tcpInactive tcpState = iota
	tcpSynSent
	tcpSynAckSent
	tcpPartial
	tcpEstablished
	tcpClosed
	tcpReset
)

// tooLargeSeqDelta is Zeek's TOO_LARGE_SEQ_DELTA.
const tooLargeSeqDelta = 1048576

// maxBlocks bounds the out-of-order data ranges kept per endpoint for gap
// accounting; beyond it the nearest ranges are merged.
const maxBlocks = 3

type seqRange struct{ lo, hi uint64 }

// tcpEndpoint is one side of a TCP connection (Zeek's TCP_Endpoint plus the
// part of its reassembler that decides content gaps).
type tcpEndpoint struct {
	state, prevState tcpState
	didClose         bool
	didEOF           bool // the reassembler delivered everything up to the FIN/RST
	windowScale      uint8
	nblocks          uint8

	startSeq, lastSeq, ackSeq uint32
	seqWraps, ackWraps        uint32

	finCnt, rstCnt uint32
	finSeq         uint64

	histLastSYN, histLastFIN, histLastRST uint32 // low 32 bits of relative sequence numbers

	rxmtCnt, win0Cnt, gapCnt, chkCnt uint32

	// Reassembly positions (relative sequence numbers, starting at 1).
	reassem, trim uint64
	blocks        [maxBlocks]seqRange
}

// tcpConn is the TCP state of one connection.
type tcpConn struct {
	ep      [2]tcpEndpoint
	origIdx uint8 // which of ep is the originator (changes on a flip)

	isActive        bool
	isPartial       bool
	firstPacketSeen uint8 // 1 orig, 2 resp
	longTimeout     bool  // tcp_inactivity_timeout applies (handshake over)
	expireOff       bool  // the periodic expire timer was cancelled
	closeDeferred   bool  // a close waits for pending data (Zeek's close_deferred)
	deferredGen     bool  // ... and will then count as a normal finish

	attemptAt int64 // tcp_attempt_delay timer, 0 when none
	closeAt   int64 // delete timer after a complete close, 0 when none

	missed uint64
}

func (c *tcpConn) init() {
	c.isActive = true
	for i := range c.ep {
		e := &c.ep[i]
		e.reassem, e.trim = 1, 1
	}
}

func (c *tcpConn) endp(isOrig bool) *tcpEndpoint {
	if isOrig {
		return &c.ep[c.origIdx]
	}
	return &c.ep[c.origIdx^1]
}

func (c *tcpConn) peerOf(e *tcpEndpoint) *tcpEndpoint {
	if e == &c.ep[0] {
		return &c.ep[1]
	}
	return &c.ep[0]
}

func (c *tcpConn) isOrigEp(e *tcpEndpoint) bool { return e == &c.ep[c.origIdx] }

// flip swaps the roles (Zeek's TCPSessionAdapter::FlipRoles).
func (c *tcpConn) flip() {
	c.origIdx ^= 1
	fs := c.firstPacketSeen
	c.firstPacketSeen = 0
	if fs&1 != 0 {
		c.firstPacketSeen |= 2
	}
	if fs&2 != 0 {
		c.firstPacketSeen |= 1
	}
	c.isPartial = false
}

func isHandshake(s tcpState) bool {
	return s == tcpInactive || s == tcpSynSent || s == tcpSynAckSent
}

func (c *tcpConn) setState(e *tcpEndpoint, s tcpState) {
	if s == e.state {
		return
	}
	if !isHandshake(s) && isHandshake(e.state) && isHandshake(c.peerOf(e).state) {
		c.longTimeout = true
	}
	e.prevState = e.state
	e.state = s
}

// tcpWantFlip is Zeek's TCPAnalyzer::WantConnection: a connection whose
// first packet is not a plain SYN is turned round when the source port looks
// like a server's.
func tcpWantFlip(p *Packet) bool {
	syn, ack := p.TCPFlags&FlagSYN != 0, p.TCPFlags&FlagACK != 0
	if syn && !ack {
		return false
	}
	if !likelyServerPort(p.SrcPort, false) {
		return false
	}
	if likelyServerPort(p.DstPort, false) {
		return !syn && p.SrcPort < p.DstPort
	}
	return true
}

// isReuse is Zeek's TCPSessionAdapter::IsReuse: a SYN that starts a new
// connection on the 5-tuple of an existing one.
func (c *tcpConn) isReuse(p *Packet, _ bool) bool {
	if p.TCPFlags&FlagSYN == 0 {
		return false
	}
	orig, resp := c.endp(true), c.endp(false)
	connOrig := orig
	if p.TCPFlags&FlagACK != 0 {
		if orig.state != tcpInactive {
			return false
		}
		connOrig = resp
	}
	// Zeek's IsClosed: either side has closed (FIN or RST seen and handled).
	if !(orig.didClose || resp.didClose) {
		if p.Seq == connOrig.startSeq {
			return false
		}
		if p.TCPFlags&FlagACK == 0 && connOrig.state == tcpSynAckSent &&
			resp.state == tcpInactive && p.Seq == resp.startSeq {
			return false
		}
	}
	return true
}

func (c *tcpConn) setPartialStatus(flags uint8, isOrig bool) {
	syn, ack := flags&FlagSYN != 0, flags&FlagACK != 0
	if isOrig {
		if c.firstPacketSeen&1 == 0 {
			c.isPartial = !syn || ack
		}
	} else if c.firstPacketSeen&2 == 0 && !c.isPartial {
		c.isPartial = !syn
	}
}

// tcpPacket runs one TCP packet through the connection, as Zeek's
// TCPAnalyzer::DeliverPacket does.
func (t *Table) tcpPacket(f *conn, p *Packet, isOrig bool) {
	c := f.tcp
	ts := p.TS
	if c.attemptAt != 0 && c.attemptAt <= ts {
		c.attemptAt = 0 // the attempt timer fired without ending the connection
	}
	e := c.endp(isOrig)
	if p.BadChecksum && t.cfg.VerifyChecksums {
		ch := byte('c')
		if isOrig {
			ch = 'C'
		}
		f.scaledHistory(ch, &e.chkCnt)
		f.deadline = c.deadline(t, f)
		return
	}
	peer := c.peerOf(e)
	flags := p.TCPFlags
	syn, fin, rst, ack := flags&FlagSYN != 0, flags&FlagFIN != 0, flags&FlagRST != 0, flags&FlagACK != 0
	length := int(p.PayloadLen)

	c.setPartialStatus(flags, isOrig)

	segLen := length
	if syn {
		segLen++
	}
	if fin {
		segLen++
	}
	if rst {
		segLen -= length
	}
	onePast := p.Seq + uint32(segLen)

	// init_endpoint
	switch e.state {
	case tcpInactive:
		if syn {
			e.initSeqs(p.Seq, onePast)
		} else {
			e.initSeqs(p.Seq-1, p.Seq)
		}
	case tcpSynSent, tcpSynAckSent:
		if syn && p.Seq != e.startSeq {
			e.initSeqs(p.Seq, onePast)
		}
	case tcpEstablished, tcpPartial:
		if syn {
			e.initSeqs(p.Seq, onePast)
		}
	case tcpReset:
		if syn && e.prevState == tcpInactive {
			e.initSeqs(p.Seq, onePast)
		}
	}

	relSeq, underflow := e.relativeSeq(p.Seq, e.lastSeq, e.seqWraps)
	c.updateHistory(f, e, flags, relSeq, length)

	// update_window: zero windows.
	win := uint32(p.Window) << e.windowScale
	if win == 0 && !rst && peer.state != tcpClosed && e.state != tcpReset {
		ch := byte('w')
		if c.isOrigEp(e) {
			ch = 'W'
		}
		f.scaledHistory(ch, &e.win0Cnt)
	}

	if !(c.ep[0].didClose && c.ep[1].didClose) {
		f.last = ts
	}

	if syn {
		// init_window
		if p.WScale < 0 {
			e.windowScale = 0
			if ack {
				peer.windowScale = 0
			}
		} else {
			e.windowScale = uint8(min(p.WScale, 14))
		}
	}
	if fin {
		e.finCnt++
		e.finSeq = relSeq + uint64(segLen)
	}
	if rst {
		e.rstCnt++
	}

	var relAck uint64
	if ack {
		if peer.state == tcpInactive {
			relAck = 1
			peer.initSeqs(p.Ack-1, p.Ack-1)
		} else {
			ra, under := peer.relativeSeq(p.Ack, peer.ackSeq, peer.ackWraps)
			if under {
				relAck = 0
			} else {
				relAck = ra
				if !rst {
					d := seqDelta(p.Ack, peer.ackSeq)
					if !(p.Ack == 0 && d > tooLargeSeqDelta) && d > 0 {
						peer.updateAckSeqRaw(p.Ack)
					}
				}
			}
		}
	}

	// update_last_seq
	deltaLast := seqDelta(onePast, e.lastSeq)
	switch {
	case (syn || rst) && (deltaLast > tooLargeSeqDelta || deltaLast < -tooLargeSeqDelta):
	case fin && e.lastSeq == e.startSeq+1:
		e.updateLastSeqRaw(onePast)
	case e.state == tcpReset:
	case deltaLast > 0:
		e.updateLastSeqRaw(onePast)
	case length > 0:
		ch := byte('t')
		if c.isOrigEp(e) {
			ch = 'T'
		}
		f.scaledHistory(ch, &e.rxmtCnt)
	}

	doClose, genEvent := c.stateMachine(t, f, ts, e, peer, p, length, deltaLast, isOrig)

	if ack {
		c.ackReceived(t, f, peer, relAck)
	}
	if length > 0 && len(p.Payload) >= length && !rst && !underflow {
		relData := relSeq
		if syn {
			relData++
		}
		e.dataSent(relData, uint64(length))
	}
	c.checkEOF(t, f, e)
	// CheckPIA_FirstPacket: only a direction's first packet decides
	// whether the connection is partial.
	if isOrig {
		c.firstPacketSeen |= 1
	} else {
		c.firstPacketSeen |= 2
	}
	if doClose {
		c.connectionClosed(t, f, e, peer, genEvent)
	}

	// ConnSize counts the packet on the side it came from as Zeek saw it
	// when the packet arrived.
	s := &f.resp
	if isOrig {
		s = &f.orig
	}
	s.pkts++
	s.ipBytes += uint64(p.IPLen)

	if length > 0 && len(p.Payload) > 0 && !rst {
		t.inspect(f, p, c.isOrigEp(e))
	}
	f.deadline = c.deadline(t, f)
}
