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

func seqDelta(a, b uint32) int32 { return int32(a - b) }

func (e *tcpEndpoint) updateLastSeqRaw(seq uint32) {
	if seq < e.lastSeq && seqDelta(seq, e.lastSeq) > 0 {
		e.seqWraps++
	}
	e.lastSeq = seq
}

func (e *tcpEndpoint) updateAckSeqRaw(seq uint32) {
	if seq < e.ackSeq && seqDelta(seq, e.ackSeq) > 0 {
		e.ackWraps++
	}
	e.ackSeq = seq
}

func (e *tcpEndpoint) initSeqs(start, last uint32) {
	e.startSeq, e.ackSeq, e.lastSeq = start, start, last
}

// relativeSeq is Zeek's get_relative_seq.
func (e *tcpEndpoint) relativeSeq(cur, last, wraps uint32) (rel uint64, underflow bool) {
	d := seqDelta(cur, last)
	if d < 0 {
		if wraps > 0 && cur > last {
			wraps--
		}
	} else if d > 0 && cur < last {
		wraps++
	}
	if wraps == 0 {
		d = seqDelta(cur, e.startSeq)
		return uint64(int64(d)), d < 0
	}
	return (uint64(wraps)<<32 | uint64(cur)) - uint64(e.startSeq), false
}

func (e *tcpEndpoint) noDataAcked() bool {
	ack := uint64(e.ackWraps)<<32 | uint64(e.ackSeq)
	start := uint64(e.startSeq)
	return ack == start || ack == start+1
}

// size is Zeek's TCP_Endpoint::Size: payload bytes from sequence numbers.
func (c *tcpConn) size(e *tcpEndpoint) uint64 {
	peer := c.peerOf(e)
	if e.prevState == tcpSynSent && e.state == tcpReset && peer.state == tcpInactive && !e.noDataAcked() {
		return 0
	}
	last := uint64(e.seqWraps)<<32 | uint64(e.lastSeq)
	ack := uint64(e.ackWraps)<<32 | uint64(e.ackSeq)
	top := max(last, ack)
	start := uint64(e.startSeq)
	if top < start {
		return 0
	}
	s := top - start
	if s != 0 {
		s--
	}
	if e.finCnt > 0 && s != 0 {
		s--
	}
	return s
}

// origSize and respSize give orig_bytes and resp_bytes.
func (c *tcpConn) origSize() uint64 { return c.size(c.endp(true)) }
func (c *tcpConn) respSize() uint64 { return c.size(c.endp(false)) }

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

// updateHistory is Zeek's update_history.
func (c *tcpConn) updateHistory(f *conn, e *tcpEndpoint, flags uint8, relSeq uint64, length int) {
	syn, fin, rst, ack := flags&FlagSYN != 0, flags&FlagFIN != 0, flags&FlagRST != 0, flags&FlagACK != 0
	orig := c.isOrigEp(e)
	check := func(mask uint32, ch byte) bool {
		if !orig {
			mask <<= histRespOff
			ch += 'a' - 'A'
		}
		return f.checkHistory(mask, ch)
	}
	add := func(ch byte) {
		if !orig {
			ch += 'a' - 'A'
		}
		f.addHistory(ch)
	}
	bits := 0
	if syn {
		bits++
	}
	if fin {
		bits++
	}
	if rst {
		bits++
	}
	switch {
	case bits > 1:
		if fin && rst {
			check(histFINRST, 'I')
		} else {
			check(histMulti, 'Q')
		}
	case bits == 1:
		if syn {
			ch := byte('S')
			if ack {
				ch = 'H'
			}
			if check(histSYN, ch) && uint32(relSeq) != e.histLastSYN {
				add(ch)
			}
			e.histLastSYN = uint32(relSeq)
		}
		if fin {
			end := relSeq + uint64(length)
			if check(histFIN, 'F') && uint32(end) != e.histLastFIN {
				add('F')
			}
			e.histLastFIN = uint32(end)
		}
		if rst {
			if check(histRST, 'R') && uint32(relSeq) != e.histLastRST {
				add('R')
			}
			e.histLastRST = uint32(relSeq)
		}
	default:
		if length > 0 {
			check(histData, 'D')
		} else if ack {
			check(histACK, 'A')
		}
	}
}

// stateMachine is Zeek's UpdateStateMachine; it reports whether the
// connection is to be reported closed and whether that is a normal finish.
func (c *tcpConn) stateMachine(t *Table, f *conn, ts int64, e, peer *tcpEndpoint, p *Packet, length int, deltaLast int32, isOrig bool) (doClose, genEvent bool) {
	flags := p.TCPFlags
	syn, fin, rst, ack := flags&FlagSYN != 0, flags&FlagFIN != 0, flags&FlagRST != 0, flags&FlagACK != 0
	switch e.state {
	case tcpInactive:
		if syn {
			if isOrig {
				if ack {
					c.setState(e, tcpSynAckSent)
				} else {
					c.setState(e, tcpSynSent)
				}
				if t.cfg.TCPAttemptDelay > 0 {
					c.attemptAt = ts + int64(t.cfg.TCPAttemptDelay)
				}
			} else {
				if !ack && peer.state == tcpSynAckSent && p.Seq == e.startSeq {
					// A SYN/SYN-ACK reversal: flip and establish.
					c.isPartial = false
					f.flip()
					c.setState(peer, tcpEstablished)
					c.firstPacketSeen |= 1
				}
				if peer.state == tcpSynSent {
					c.setState(peer, tcpEstablished)
				}
				c.setState(e, tcpEstablished)
			}
		}
		if fin {
			c.setState(e, tcpClosed)
			doClose, genEvent = true, true
		}
		if rst {
			c.setState(e, tcpReset)
			reject := false
			if isOrig {
				reject = peer.state == tcpEstablished
			} else {
				reject = peer.state == tcpSynSent || peer.state == tcpSynAckSent
			}
			doClose = true
			genEvent = !reject
		}
		if e.state == tcpInactive {
			switch {
			case !isOrig && length == 0 && c.endp(true).state == tcpSynSent:
				// An ack of the SYN before the SYN-ACK: not a partial connection.
			case ack && peer.state == tcpEstablished:
				c.setState(e, tcpEstablished)
				c.isPartial = false
				if isOrig {
					c.firstPacketSeen |= 1
				} else {
					c.firstPacketSeen |= 2
				}
			default:
				c.setState(e, tcpPartial)
			}
		}

	case tcpSynSent, tcpSynAckSent:
		if fin {
			c.setState(e, tcpClosed)
			doClose, genEvent = true, true
		}
		if rst {
			c.setState(e, tcpReset)
			c.isActive = false // ConnectionReset
			doClose = true
		}

	case tcpEstablished, tcpPartial:
		if syn && e.state == tcpPartial && peer.state == tcpInactive && !ack {
			c.setState(e, tcpSynSent)
		}
		if fin && !rst {
			c.setState(e, tcpClosed)
			if peer.state == tcpReset && peer.prevState == tcpClosed {
				c.setState(peer, tcpClosed)
			}
			doClose, genEvent = true, true
		}
		if rst {
			c.setState(e, tcpReset)
			doClose = true
			if peer.state != tcpReset || peer.prevState != tcpEstablished {
				c.isActive = false
			}
		}

	case tcpClosed:
		if rst && peer.state != tcpClosed {
			c.setState(e, tcpReset)
			if !e.didClose {
				doClose = true
			}
		}

	case tcpReset:
	}
	_ = deltaLast
	return doClose, genEvent
}

// connectionClosed is Zeek's TCPSessionAdapter::ConnectionClosed. While
// the closing side still has data to deliver, the close is deferred until
// its reassembler reaches the end (checkEOF).
func (c *tcpConn) connectionClosed(t *Table, f *conn, e, peer *tcpEndpoint, genEvent bool) {
	if c.dataPending(e) {
		c.closeDeferred = true
		if !c.deferredGen {
			c.deferredGen = genEvent
		}
		return
	}
	c.closeDeferred = false
	if e.didClose {
		return
	}
	e.didClose = true
	complete := e.state == tcpReset || peer.didClose || peer.state == tcpInactive
	if !complete {
		return
	}
	if c.deferredGen {
		genEvent = true
		c.deferredGen = false
	}
	if (e.prevState != tcpInactive || peer.state != tcpInactive) && genEvent {
		c.isActive = false // ConnectionFinished
	}
	c.attemptAt = 0
	c.expireOff = true
	c.closeAt = f.last + int64(t.cfg.TCPCloseDelay)
}

// deadline is the time at which one of Zeek's timers would remove the
// connection, given its state now.
func (c *tcpConn) deadline(t *Table, f *conn) int64 {
	to := t.cfg.UDPInactivity // Zeek starts TCP connections on udp_inactivity_timeout
	if c.longTimeout {
		to = t.cfg.TCPInactivity
	}
	d := f.last + int64(to)
	orig, resp := c.endp(true), c.endp(false)
	if c.attemptAt != 0 && c.isActive && (orig.state == tcpSynSent || orig.state == tcpSynAckSent) && resp.state == tcpInactive {
		d = min(d, c.attemptAt)
	}
	if c.closeAt != 0 {
		d = min(d, c.closeAt)
	}
	if !c.expireOff && c.isActive {
		// The periodic expire timer: first at start+tcp_SYN_timeout, then
		// every tcp_session_timer; it ends the connection once it has been
		// idle for tcp_connection_linger and is half-closed or dead.
		closed := orig.didClose || resp.didClose
		dead := (orig.didClose && resp.didClose) || orig.state == tcpReset || resp.state == tcpReset ||
			orig.state == tcpInactive || resp.state == tcpInactive
		if (closed && dead) || (orig.state == tcpInactive && resp.state == tcpInactive) {
			idle := f.last + int64(t.cfg.TCPConnLinger) // must be strictly later
			first := f.first + int64(t.cfg.TCPSYNTimeout)
			step := int64(t.cfg.TCPSessionTimer)
			tc := first
			if idle >= tc && step > 0 {
				tc += ((idle-first)/step + 1) * step
			}
			d = min(d, tc)
		}
	}
	return d
}

// dataSent records [seq, seq+n) as delivered or buffered (Zeek's reassembler).
func (e *tcpEndpoint) dataSent(seq, n uint64) {
	upper := seq + n
	if upper <= e.trim {
		return
	}
	if seq < e.trim {
		seq = e.trim
	}
	if seq <= e.reassem {
		if upper > e.reassem {
			e.reassem = upper
			e.mergeBlocks()
		}
		return
	}
	e.addBlock(seq, upper)
}

func (e *tcpEndpoint) mergeBlocks() {
	for changed := true; changed; {
		changed = false
		for i := 0; i < int(e.nblocks); i++ {
			b := e.blocks[i]
			if b.lo <= e.reassem {
				if b.hi > e.reassem {
					e.reassem = b.hi
				}
				e.removeBlock(i)
				changed = true
				break
			}
		}
	}
}

func (e *tcpEndpoint) removeBlock(i int) {
	n := int(e.nblocks)
	copy(e.blocks[i:n], e.blocks[i+1:n])
	e.nblocks--
}

// addBlock keeps an out-of-order range, sorted, merging overlaps; when full,
// the two closest ranges are joined (the data between them is then assumed
// present, so a gap may go unreported: bounded state wins).
func (e *tcpEndpoint) addBlock(lo, hi uint64) {
	n := int(e.nblocks)
	// Merge with overlapping or touching ranges.
	for i := 0; i < n; i++ {
		b := &e.blocks[i]
		if lo <= b.hi && hi >= b.lo {
			b.lo, b.hi = min(b.lo, lo), max(b.hi, hi)
			e.normalizeBlocks()
			return
		}
	}
	if n == maxBlocks {
		// Join the new range with its nearest neighbour.
		best, bestDist := 0, uint64(1<<63)
		for i := 0; i < n; i++ {
			b := e.blocks[i]
			var d uint64
			if b.hi < lo {
				d = lo - b.hi
			} else {
				d = b.lo - hi
			}
			if d < bestDist {
				best, bestDist = i, d
			}
		}
		b := &e.blocks[best]
		b.lo, b.hi = min(b.lo, lo), max(b.hi, hi)
		e.normalizeBlocks()
		return
	}
	i := n
	for i > 0 && e.blocks[i-1].lo > lo {
		e.blocks[i] = e.blocks[i-1]
		i--
	}
	e.blocks[i] = seqRange{lo, hi}
	e.nblocks++
}

func (e *tcpEndpoint) normalizeBlocks() {
	n := int(e.nblocks)
	// insertion sort then merge neighbours
	for i := 1; i < n; i++ {
		for j := i; j > 0 && e.blocks[j-1].lo > e.blocks[j].lo; j-- {
			e.blocks[j-1], e.blocks[j] = e.blocks[j], e.blocks[j-1]
		}
	}
	for i := 0; i+1 < int(e.nblocks); {
		if e.blocks[i+1].lo <= e.blocks[i].hi {
			e.blocks[i].hi = max(e.blocks[i].hi, e.blocks[i+1].hi)
			e.removeBlock(i + 1)
			continue
		}
		i++
	}
}

func isClean(e *tcpEndpoint) bool {
	return e.state == tcpEstablished || (e.state == tcpClosed && e.prevState == tcpEstablished)
}

// dataPending is Zeek's TCP_Reassembler::DataPending for e: data below its
// last sequence number not yet delivered, or (unless e was reset) data of
// its peer not yet acknowledged.
func (c *tcpConn) dataPending(e *tcpEndpoint) bool {
	delivered := uint64(e.startSeq) + e.reassem
	last := uint64(e.seqWraps)<<32 | uint64(e.lastSeq)
	if last < delivered {
		return false
	}
	if delivered != last-1 && delivered != last {
		return true
	}
	peer := c.peerOf(e)
	return e.state != tcpReset && (peer.nblocks > 0 || peer.reassem > peer.trim)
}

// checkEOF is the reassembler's CheckEOF: once a closing side has nothing
// pending, a deferred close goes ahead (Zeek's EndpointEOF).
func (c *tcpConn) checkEOF(t *Table, f *conn, e *tcpEndpoint) {
	if e.didEOF || !(e.finCnt > 0 || e.state == tcpClosed || e.state == tcpReset) || c.dataPending(e) {
		return
	}
	e.didEOF = true
	if c.closeDeferred {
		c.closeDeferred = false
		c.connectionClosed(t, f, e, c.peerOf(e), c.deferredGen)
	}
}

// ackReceived is the reassembler's AckReceived for e's data: an ack beyond
// what e was seen to send reveals a content gap.
func (c *tcpConn) ackReceived(t *Table, f *conn, e *tcpEndpoint, seq uint64) {
	if e.finCnt > 0 && seq >= e.finSeq {
		seq = e.finSeq - 1
	}
	if seq <= e.trim {
		return
	}
	e.trim = seq
	c.fillGaps(f, e, seq)
	c.checkEOF(t, f, e)
}

// fillGaps delivers e's data up to seq, reporting what was never seen.
func (c *tcpConn) fillGaps(f *conn, e *tcpEndpoint, seq uint64) {
	if seq <= e.reassem {
		return
	}
	if seq <= 2 && c.isPartial {
		return
	}
	peer := c.peerOf(e)
	clean := isClean(e) && isClean(peer)
	gap := func(n uint64) {
		if n == 0 || !clean {
			return
		}
		ch := byte('g')
		if c.isOrigEp(e) {
			ch = 'G'
		}
		f.scaledHistory(ch, &e.gapCnt)
		c.missed += n
	}
	for e.nblocks > 0 && e.blocks[0].lo < seq {
		b := e.blocks[0]
		if b.lo > e.reassem {
			gap(b.lo - e.reassem)
		}
		if b.hi > e.reassem {
			e.reassem = b.hi
		}
		e.removeBlock(0)
	}
	if seq > e.reassem {
		gap(seq - e.reassem)
		e.reassem = seq
	}
}

// connState is Zeek's conn_state() for TCP.
func (c *tcpConn) connState(f *conn) string {
	o, r := c.endp(true), c.endp(false)
	os, rs := o.state, r.state
	oInactive := os == tcpInactive || os == tcpPartial
	rInactive := rs == tcpInactive || rs == tcpPartial
	switch {
	case rs == tcpReset:
		if os == tcpSynSent || os == tcpSynAckSent ||
			(os == tcpReset && c.size(o) == 0 && c.size(r) == 0) {
			return "REJ"
		}
		if oInactive {
			return "RSTRH"
		}
		return "RSTR"
	case os == tcpReset:
		if rInactive {
			if historyRSTOS0(f.history()) {
				return "RSTOS0"
			}
			return "OTH"
		}
		return "RSTO"
	case rs == tcpClosed && os == tcpClosed:
		return "SF"
	case os == tcpClosed:
		if rInactive {
			return "SH"
		}
		return "S2"
	case rs == tcpClosed:
		if oInactive {
			return "SHR"
		}
		return "S3"
	case os == tcpSynSent && rs == tcpInactive:
		return "S0"
	case os == tcpEstablished && rs == tcpEstablished:
		return "S1"
	}
	return "OTH"
}

func (f *conn) history() []byte {
	n := min(int(f.histLen), len(f.hist))
	return f.hist[:n]
}

// historyRSTOS0 matches Zeek's /\^?S[^HAFGIQ]*R.*/ (anchored).
func historyRSTOS0(h []byte) bool {
	i := 0
	if i < len(h) && h[i] == '^' {
		i++
	}
	if i >= len(h) || h[i] != 'S' {
		return false
	}
	for i++; i < len(h); i++ {
		switch h[i] {
		case 'R':
			return true
		case 'H', 'A', 'F', 'G', 'I', 'Q':
			return false
		}
	}
	return false
}
