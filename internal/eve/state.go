package eve

import (
	"github.com/mlads/mlads/internal/flow"
)

// TCP flag bits as Suricata writes them in tcp_flags (hex).
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
)

// finishState sets ConnState and History from the flags of each direction.
func finishState(r *flow.Record, of, rf uint8, haveFlags bool, state []byte) {
	switch r.IPProto {
	case 6:
		if haveFlags {
			r.ConnState = tcpState(of, rf)
			r.History = history(of, rf)
		} else {
			r.ConnState = stateFromFlowState(state)
		}
	case 17:
		switch {
		case r.OrigPkts > 0 && r.RespPkts > 0:
			r.ConnState = "SF"
			r.History = "Dd"
		case r.OrigPkts > 0:
			r.ConnState = "S0"
			r.History = "D"
		case r.RespPkts > 0:
			r.ConnState = "SHR"
			r.History = "d"
		default:
			r.ConnState = "OTH"
		}
	default: // ICMP, SCTP, GRE and the rest: Zeek logs OTH without history
		r.ConnState = "OTH"
	}
}

// histFlags are the five flags that matter to history.
const histFlags = tcpFIN | tcpSYN | tcpRST | tcpPSH | tcpACK // 0x1f

// histories holds the history of every combination of histFlags in each
// direction, at (orig flags)<<5 | (resp flags): 1024 substrings of one
// string, built once.
var histories = func() (t [1 << 10]string) {
	var all []byte
	var ends [len(t)]int
	for i := range t {
		all = tcpHistory(all, uint8(i>>5), uint8(i&histFlags))
		ends[i] = len(all)
	}
	s, start := string(all), 0
	for i, end := range ends {
		t[i], start = s[start:end], end
	}
	return t
}()

// history returns the approximate history for the flags of each direction.
func history(of, rf uint8) string {
	return histories[uint16(of&histFlags)<<5|uint16(rf&histFlags)]
}

// tcpState is the conn_state table of the package comment.
func tcpState(of, rf uint8) string {
	oSYN, rSYN := of&tcpSYN != 0, rf&tcpSYN != 0
	switch {
	case oSYN && rSYN:
		switch {
		case of&tcpRST != 0:
			return "RSTO"
		case rf&tcpRST != 0:
			return "RSTR"
		case of&tcpFIN != 0 && rf&tcpFIN != 0:
			return "SF"
		case of&tcpFIN != 0:
			return "S2"
		case rf&tcpFIN != 0:
			return "S3"
		}
		return "S1"
	case oSYN:
		switch {
		case rf&tcpRST != 0:
			return "REJ"
		case of&tcpRST != 0:
			return "RSTOS0"
		case of&tcpFIN != 0:
			return "SH"
		}
		return "S0"
	case rSYN:
		switch {
		case rf&tcpRST != 0:
			return "RSTRH"
		case rf&tcpFIN != 0:
			return "SHR"
		}
	}
	return "OTH"
}

// tcpHistory appends the approximate history of the package comment.
func tcpHistory(b []byte, of, rf uint8) []byte {
	if of&tcpSYN != 0 {
		b = append(b, 'S')
	}
	if rf&tcpSYN != 0 && rf&tcpACK != 0 {
		b = append(b, 'h')
	} else if rf&tcpSYN != 0 {
		b = append(b, 's')
	}
	if of&tcpACK != 0 {
		b = append(b, 'A')
	}
	if of&tcpPSH != 0 {
		b = append(b, 'D')
	}
	if rf&tcpACK != 0 && (rf&(tcpPSH|tcpFIN) != 0) {
		b = append(b, 'a')
	}
	if rf&tcpPSH != 0 {
		b = append(b, 'd')
	}
	if of&tcpFIN != 0 {
		b = append(b, 'F')
	}
	if rf&tcpFIN != 0 {
		b = append(b, 'f')
	}
	if of&tcpRST != 0 {
		b = append(b, 'R')
	}
	if rf&tcpRST != 0 {
		b = append(b, 'r')
	}
	return b
}

func stateFromFlowState(s []byte) string {
	switch string(s) {
	case "new":
		return "S0"
	case "established":
		return "S1"
	case "closed":
		return "SF"
	}
	return "OTH"
}
