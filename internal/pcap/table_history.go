package pcap

// flip swaps the roles of originator and responder in the middle of a
// connection (Zeek's Connection::FlipRoles), recording '^' in the history.
func (f *conn) flip() {
	f.origLo = !f.origLo
	f.origPort, f.respPort = f.respPort, f.origPort
	f.orig, f.resp = f.resp, f.orig
	f.nOrigPay, f.nRespPay = f.nRespPay, f.nOrigPay
	f.svcHint.flip()
	if f.tcp != nil {
		f.tcp.flip()
	}
	f.addHistory('^')
}

func (f *conn) addParent(uid uint64) {
	for i := 0; i < int(f.nparent); i++ {
		if f.parents[i] == uid {
			return
		}
	}
	if int(f.nparent) < len(f.parents) {
		f.parents[f.nparent] = uid
		f.nparent++
	}
}

// addHistory appends a history letter, dropping it when the buffer is full.
func (f *conn) addHistory(c byte) {
	if int(f.histLen) < len(f.hist) {
		f.hist[f.histLen] = c
		f.histLen++
		return
	}
	f.histLen = uint8(len(f.hist)) + 1 // marks the cut; see Table.finish
}

// checkHistory is Zeek's Connection::CheckHistory: the letter is added the
// first time the mask's event is seen; it reports whether it was seen before.
func (f *conn) checkHistory(mask uint32, c byte) bool {
	if f.histSeen&mask == 0 {
		f.histSeen |= mask
		f.addHistory(c)
		return false
	}
	return true
}

// scaledHistory is Zeek's Connection::ScaledHistoryEntry: the letter is
// logged at the 1st, 10th, 100th, ... occurrence.
func (f *conn) scaledHistory(c byte, counter *uint32) {
	*counter++
	if isPow10(*counter) {
		f.addHistory(c)
	}
}

func isPow10(n uint32) bool {
	switch n {
	case 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000:
		return true
	}
	return false
}

func (f *conn) addService(id uint8) {
	for i := 0; i < int(f.nsvc); i++ {
		if f.svc[i] == id {
			return
		}
	}
	if int(f.nsvc) < len(f.svc) {
		f.svc[f.nsvc] = id
		f.nsvc++
	}
}

// History masks (Zeek's HIST_* constants; the responder's are shifted by 16).
const (
	histSYN     = 0x1
	histFIN     = 0x2
	histRST     = 0x4
	histFINRST  = 0x8
	histData    = 0x10
	histACK     = 0x20
	histMulti   = 0x40
	histRespOff = 16

	histOrigDataUDP = 0x1
	histRespDataUDP = 0x2
)
