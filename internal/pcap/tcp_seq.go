package pcap

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
