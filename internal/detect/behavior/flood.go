package behavior

import (
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

// victim is the flood state of one receiving host, created on its first
// unanswered flow.
type victim struct {
	start, last time.Time
	total       uint32 // flows to the victim in the window
	half        uint32 // unanswered / half-open among them
	tcpHalf     uint32
	synOnly     uint32      // TCP flows of a bare SYN (history "S")
	pkts        uint64      // packets the victim received in half-open flows
	top         []srcCount  // space-saving heavy hitters of the sources
	srcBits     *[32]uint64 // linear-counting bitmap of distinct sources
	ports       []uint16    // distinct victim ports (up to 64)
	uids        []string
	reported    uint32 // half-open count when last reported; 0 if not yet
}

// srcCount is a space-saving counter: n may overestimate the source's
// flows by at most err (the count of the entry it replaced).
type srcCount struct {
	addr   netip.Addr
	n, err uint32
}

// halfOpen reports whether a flow is one-sided: TCP that never completed a
// handshake (S0, REJ, SH, SHR, RSTOS0, RSTRH, or OTH with one silent
// side), or UDP/ICMP/other that was never answered.
//
// A flow with bad checksums in its history (Zeek's C/c) is not counted:
// its "missing" answer was usually dropped by checksum verification on a
// capture made with checksum offload, not unsent.
func halfOpen(r *flow.Record) bool {
	if strings.ContainsAny(r.History, "Cc") {
		return false
	}
	if r.Proto == flow.ProtoTCP {
		switch r.ConnState {
		case "S0", "REJ", "SH", "SHR", "RSTOS0", "RSTRH":
			return true
		case "OTH":
			return r.OrigPkts == 0 || r.RespPkts == 0
		}
		return false
	}
	return r.OrigPkts == 0 || r.RespPkts == 0
}

// floodEnds returns the flow's victim for the flood detector: the
// responder, or the originator when only the responder sent packets (a
// reflected SYN-ACK or backscatter that a flow meter oriented by its first
// packet); with the source and the victim's port.
func floodEnds(r *flow.Record) (vict, src netip.Addr, vport uint16) {
	if r.OrigPkts == 0 && r.RespPkts > 0 {
		return r.OrigH, r.RespH, r.OrigP
	}
	return r.RespH, r.OrigH, r.RespP
}

// FloodVictim returns the host whose flood window counts r, or the zero
// Addr when r counts for none. A consumer group keys flows by it so that
// every flow of one victim meets in one detector (package kafka).
func FloodVictim(r *flow.Record) netip.Addr {
	if v, _, _ := floodEnds(r); v.IsValid() && !isGroup(v) {
		return v
	}
	return netip.Addr{}
}

// observeFlood counts the flow for its victim (floodEnds).
func (e *Engine) observeFlood(r *flow.Record) {
	vict, src, vport := floodEnds(r)
	if !vict.IsValid() || isGroup(vict) {
		return
	}
	ho := halfOpen(r)
	if !ho && len(e.victims) == 0 {
		return
	}
	v := e.victims[vict]
	if v == nil {
		if !ho {
			return
		}
		if len(e.victims) >= e.cfg.MaxVictims {
			e.evictVictims()
			if len(e.victims) >= e.cfg.MaxVictims {
				e.st.VictimDrops++
				return
			}
		}
		v = &victim{start: r.TS}
		e.victims[vict] = v
	} else if !r.TS.Before(v.start.Add(e.cfg.FloodWindow)) {
		e.closeVictim(vict, v)
		*v = victim{start: r.TS, top: v.top[:0], srcBits: v.srcBits, ports: v.ports[:0]}
		if v.srcBits != nil {
			*v.srcBits = [32]uint64{}
		}
	}
	if r.TS.After(v.last) {
		v.last = r.TS
	}
	v.total++
	if !ho {
		return
	}
	v.half++
	if r.Proto == flow.ProtoTCP {
		v.tcpHalf++
		if r.History == "S" || r.History == "^s" {
			v.synOnly++
		}
	}
	if vict == r.RespH {
		v.pkts += r.OrigPkts
	} else {
		v.pkts += r.RespPkts
	}
	v.addSource(src, e.cfg.MaxTopSource)
	if r.Proto != flow.ProtoICMP && len(v.ports) < 64 && !slices.Contains(v.ports, vport) {
		v.ports = append(v.ports, vport)
	}
	v.uids = addUID(v.uids, r.UID, e.cfg.MaxUIDs)
	if v.reported == 0 && int(v.half) >= e.cfg.FloodMinFlows {
		// Report as soon as it is certain; closeVictim reports again with
		// the final counts if the flood went on to double.
		e.judgeVictim(vict, v)
	}
}

// addSource counts src in the space-saving summary and the distinct bitmap.
func (v *victim) addSource(src netip.Addr, k int) {
	if v.srcBits == nil {
		v.srcBits = new([32]uint64)
	}
	b := hashAddr(src) & 2047
	v.srcBits[b/64] |= 1 << (b % 64)
	for i := range v.top {
		if v.top[i].addr == src {
			v.top[i].n++
			return
		}
	}
	if len(v.top) < k {
		v.top = append(v.top, srcCount{addr: src, n: 1})
		return
	}
	m := 0
	for i := range v.top {
		if v.top[i].n < v.top[m].n {
			m = i
		}
	}
	v.top[m] = srcCount{addr: src, n: v.top[m].n + 1, err: v.top[m].n}
}

// distinctSources estimates the number of distinct sources by linear
// counting on the 2048-bit bitmap.
func (v *victim) distinctSources() int {
	if v.srcBits == nil {
		return 0
	}
	zero := 0
	for _, w := range v.srcBits {
		zero += 64 - bits.OnesCount64(w)
	}
	if zero == 0 {
		return 2048 * 8 // saturated: at least this many
	}
	return int(math.Round(-2048 * math.Log(float64(zero)/2048)))
}

// closeVictim ends the victim's window: a flood not reported yet is
// judged, one reported early is reported again with its final counts when
// it has at least doubled since.
func (e *Engine) closeVictim(addr netip.Addr, v *victim) {
	if v.reported == 0 || v.half >= 2*v.reported {
		e.judgeVictim(addr, v)
	}
}

// judgeVictim reports a flood when the window holds enough unanswered
// flows, they are a large enough share of the victim's traffic, and they
// are not one source walking through many ports (a vertical scan, reported
// as such). The p-value is the Poisson tail of the unanswered count with
// mean FloodNullFlows.
func (e *Engine) judgeVictim(addr netip.Addr, v *victim) {
	e.trial(SYNFlood, HalfOpenSurge, UDPFlood)
	c := &e.cfg
	if int(v.half) < c.FloodMinFlows || float64(v.half) < c.FloodMinShare*float64(v.total) {
		return
	}
	slices.SortFunc(v.top, func(a, b srcCount) int {
		if a.n != b.n {
			return int(b.n) - int(a.n)
		}
		return a.addr.Compare(b.addr)
	})
	if len(v.top) > 0 && float64(v.top[0].n-v.top[0].err) >= 0.9*float64(v.half) && len(v.ports) >= c.VerticalPorts {
		return
	}
	det := UDPFlood
	switch {
	case v.tcpHalf*2 >= v.half && v.synOnly*2 >= v.tcpHalf:
		det = SYNFlood
	case v.tcpHalf*2 >= v.half:
		det = HalfOpenSurge
	}
	// Sources are listed with the flows they surely sent (n - err) and at
	// most sent (n); the churn of spoofed sources, each surely seen once,
	// is left out.
	top := make([]map[string]any, 0, len(v.top))
	for _, s := range v.top {
		if s.err == 0 || s.n-s.err >= 2 {
			top = append(top, map[string]any{"ip": s.addr.String(), "flows": int(s.n - s.err), "flows_at_most": int(s.n)})
		}
	}
	ports := slices.Clone(v.ports)
	slices.Sort(ports)
	ev := map[string]any{
		"half_open_flows":  int(v.half),
		"flows":            int(v.total),
		"half_open_share":  round3(float64(v.half) / float64(v.total)),
		"tcp_half_open":    int(v.tcpHalf),
		"syn_only":         int(v.synOnly),
		"packets":          v.pkts,
		"distinct_sources": v.distinctSources(),
		"top_sources":      top,
		"victim_ports":     ports[:min(len(ports), c.MaxEvidence)],
		"window_s":         c.FloodWindow.Seconds(),
	}
	dur := v.last.Sub(v.start)
	if v.reported > 0 {
		ev["update_of_report_at"] = int(v.reported)
	}
	v.reported = max(v.half, 1)
	peer := "" // the top source, when it surely is a real share of the flood
	if len(v.top) > 0 && 10*(v.top[0].n-v.top[0].err) >= v.half {
		peer = v.top[0].addr.String()
	}
	e.emit(detect.Finding{
		Detector: det,
		Host:     addr.String(),
		Peer:     peer,
		Start:    v.start,
		End:      v.last,
		PValue:   poissonTail(int(v.half), c.FloodNullFlows),
		Summary: fmt.Sprintf("%s received %d unanswered flows (%.0f%% of its flows) from ~%d sources in %s",
			addr, v.half, 100*float64(v.half)/float64(v.total), v.distinctSources(), fmtDur(dur)),
		Evidence: ev,
		UIDs:     slices.Clone(v.uids),
	})
}

// evictVictims forgets victims whose window has ended, then an arbitrary
// sixteenth of the table.
func (e *Engine) evictVictims() {
	for a, v := range e.victims {
		if !e.now.Before(v.start.Add(e.cfg.FloodWindow)) {
			e.closeVictim(a, v)
			delete(e.victims, a)
			e.st.VictimEvictions++
		}
	}
	n := max(1, e.cfg.MaxVictims/16)
	for a, v := range e.victims {
		if n == 0 || len(e.victims) < e.cfg.MaxVictims {
			break
		}
		e.closeVictim(a, v)
		delete(e.victims, a)
		e.st.VictimEvictions++
		n--
	}
}

func (v *victim) mem() int {
	n := int(unsafe.Sizeof(*v)) + 24 + 8 + 8
	n += cap(v.top)*int(unsafe.Sizeof(srcCount{})) + cap(v.ports)*2 + len(v.uids)*36
	if v.srcBits != nil {
		n += 256
	}
	return n
}
