package pcap

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
