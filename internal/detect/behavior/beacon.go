package behavior

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"
	"unsafe"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

// beaconPair keeps the most recent connections of one (source,
// destination) pair, as RITA groups them: ports do not split a pair. A
// pair is promoted here from host.pending at its third connection.
type beaconPair struct {
	first, last int64    // unix nanoseconds
	ts          []uint32 // ring: start offsets from first, milliseconds
	size        []uint16 // ring: orig_bytes, saturated at 65535 (RITA's smallness cut-off)
	uids        [][]byte // most recent uids, once the pair is a candidate (bytes, rewritten in place: no allocation per flow)
	n           uint32   // connections seen
	next        uint32   // connection count of the next scoring
	ports       [4]uint16
	head        uint8 // next ring slot once full
	uidHead     uint8
	nports      uint8
	reported    bool
}

// pendingPair is a destination a source has contacted once or twice: 32
// bytes instead of a map entry and a beaconPair, since most destinations
// never get a third connection.
type pendingPair struct {
	dst         uint64 // hashAddr of the destination
	first, last int64  // unix nanoseconds
	s1, s2      uint16 // orig_bytes of the two connections
	n           uint8
	repeat      bool // the source had contacted it before (first-contact memory)
}

// beaconUIDs is the number of flow uids a pair keeps.
const beaconUIDs = 5

// maxPending bounds host.pending; when full, a one-off destination that
// is not a known repeat and was seen longest ago makes room.
const maxPending = 48

// observeBeacon adds the flow to its pair and scores the pair when its
// connection count reaches BeaconMinConns, then at each doubling.
func (e *Engine) observeBeacon(h *host, r *flow.Record) {
	if isGroup(r.RespH) {
		return
	}
	ts := r.TS.UnixNano()
	sz := uint16(min(r.OrigBytes, math.MaxUint16))
	p := h.pairs[r.RespH]
	if p == nil {
		p = e.pend(h, r.RespH, ts, sz)
		if p == nil {
			return
		}
	} else {
		p.add(ts, sz, e.cfg.BeaconMaxConns)
	}
	if p.nports < uint8(len(p.ports)) && !slices.Contains(p.ports[:p.nports], r.RespP) {
		p.ports[p.nports] = r.RespP
		p.nports++
	}
	// The most recent uids, kept from a few connections before the first
	// scoring on: enough to find the flows, cheap for the many pairs that
	// never become beacons.
	if k := min(e.cfg.MaxUIDs, beaconUIDs); int(p.n)+k > e.cfg.BeaconMinConns && r.UID != "" {
		if len(p.uids) < k {
			p.uids = append(p.uids, []byte(r.UID))
		} else {
			// the Record may be reused: copy, into the slot's own bytes
			p.uids[p.uidHead] = append(p.uids[p.uidHead][:0], r.UID...)
			p.uidHead = uint8((int(p.uidHead) + 1) % len(p.uids))
		}
	}
	if p.n >= p.next {
		p.next = 2 * p.n
		e.scoreBeacon(h, r.RespH, p)
	}
}

// pend counts a connection to a destination without a beaconPair: in
// host.pending for the first two, promoted to a beaconPair (returned) at
// the third.
func (e *Engine) pend(h *host, dst netip.Addr, ts int64, sz uint16) *beaconPair {
	hd := hashAddr(dst)
	for i := range h.pending {
		q := &h.pending[i]
		if q.dst != hd {
			continue
		}
		if q.n < 2 {
			q.n, q.s2 = 2, sz
			q.first, q.last = min(q.first, ts), max(q.last, ts)
			return nil
		}
		if len(h.pairs) >= e.cfg.MaxPairsPerHost || e.npairs >= e.cfg.MaxPairs {
			e.st.PairDrops++
			return nil
		}
		p := &beaconPair{first: q.first, last: q.first, next: uint32(e.cfg.BeaconMinConns)}
		p.add(q.first, q.s1, e.cfg.BeaconMaxConns)
		p.add(q.last, q.s2, e.cfg.BeaconMaxConns)
		p.add(ts, sz, e.cfg.BeaconMaxConns)
		h.pending[i] = h.pending[len(h.pending)-1]
		h.pending = h.pending[:len(h.pending)-1]
		if h.pairs == nil {
			h.pairs = make(map[netip.Addr]*beaconPair, 4)
		}
		h.pairs[dst] = p
		e.npairs++
		return p
	}
	q := pendingPair{dst: hd, first: ts, last: ts, s1: sz, n: 1, repeat: !h.contacts.lastNew}
	if len(h.pending) < maxPending {
		h.pending = append(h.pending, q)
		return nil
	}
	victim := -1
	for i := range h.pending {
		c := &h.pending[i]
		if c.n == 1 && !c.repeat && (victim < 0 || c.last < h.pending[victim].last) {
			victim = i
		}
	}
	if victim < 0 {
		for i := range h.pending {
			if victim < 0 || h.pending[i].last < h.pending[victim].last {
				victim = i
			}
		}
	}
	e.st.PendingEvictions++
	h.pending[victim] = q
	return nil
}

// add records one connection in the ring.
func (p *beaconPair) add(ts int64, sz uint16, maxConns int) {
	if ts < p.first {
		// An earlier connection reported late (meters and Zeek report
		// flows when they end): move the origin back to it.
		d := (p.first - ts) / 1e6
		for i := range p.ts {
			p.ts[i] = uint32(min(int64(p.ts[i])+d, math.MaxUint32))
		}
		p.first = ts
	}
	off := (ts - p.first) / 1e6
	if off > math.MaxUint32 {
		// Seven weeks of one pair: start it again.
		*p = beaconPair{first: ts, last: ts, next: p.next, ts: p.ts[:0], size: p.size[:0], reported: p.reported}
		off = 0
	}
	p.n++
	p.last = max(p.last, ts)
	if len(p.ts) < maxConns {
		p.ts = append(p.ts, uint32(off))
		p.size = append(p.size, sz)
	} else {
		p.ts[p.head], p.size[p.head] = uint32(off), sz
		p.head = uint8((int(p.head) + 1) % len(p.ts))
	}
}

// beaconScore is RITA's beacon analysis of one pair.
type beaconScore struct {
	conns                          int
	interval                       robust // of the intervals between connection starts, seconds
	size                           robust // of orig_bytes
	tsSkew, tsMadm, tsConn         float64
	dsSkew, dsMadm, dsSmall, score float64
	nearMedian                     int // intervals within the tolerance of the median
	tolerance                      float64
	p                              float64
}

// scoreBeacon scores the pair and reports it once when it qualifies.
//
// The score is RITA's: the mean of six sub-scores in [0, 1]. Interval:
// 1-|Bowley skew|, 1-MAD/BeaconJitter, and connection count against the
// count a perfect beacon with the median interval would make over the
// pair's span. Size: 1-|Bowley skew|, 1-MAD/BeaconSizeJitter, and
// smallness 1-median/65535 (RITA uses the mode).
//
// The p-value tests the intervals against a Poisson process, whose
// intervals are exponential: under that null an interval falls within
// ±δ of the median m (δ = max(10% of m, 1 s)) with probability
// p0 = exp(-λ(m-δ)) - exp(-λ(m+δ)), λ = ln 2 / m, so the number of such
// intervals is binomial and its upper tail is the p-value. (m is taken
// from the same data, which makes the test slightly optimistic; the
// default threshold is 1e-6.)
func (e *Engine) scoreBeacon(h *host, dst netip.Addr, p *beaconPair) {
	if p.reported || len(p.ts) < e.cfg.BeaconMinConns {
		return
	}
	e.trial(Beacon)
	b := e.beaconScore(p)
	if b.interval.median < e.cfg.BeaconMinInterval.Seconds() || b.score < e.cfg.BeaconMinScore || b.p > e.cfg.BeaconMaxP {
		return
	}
	p.reported = true
	ports := make([]int, p.nports)
	for i := range ports {
		ports[i] = int(p.ports[i])
	}
	slices.Sort(ports)
	e.emit(detect.Finding{
		Detector: Beacon,
		Host:     h.addr.String(),
		Peer:     dst.String(),
		Start:    time.Unix(0, p.first).UTC(),
		End:      time.Unix(0, p.last).UTC(),
		PValue:   b.p,
		Summary: fmt.Sprintf("%s connects to %s every %s (%d connections, interval MAD %s, RITA score %.2f)",
			h.addr, dst, fmtDur(secs(b.interval.median)), p.n, fmtDur(secs(b.interval.mad)), b.score),
		Evidence: map[string]any{
			"connections":         int(p.n),
			"connections_scored":  b.conns,
			"interval_median_s":   round3(b.interval.median),
			"interval_mad_s":      round3(b.interval.mad),
			"interval_skew":       round3(b.interval.skew),
			"interval_regularity": round3(float64(b.nearMedian) / float64(b.conns-1)),
			"size_median":         round3(b.size.median),
			"size_mad":            round3(b.size.mad),
			"size_skew":           round3(b.size.skew),
			"ts_score":            round3((b.tsSkew + b.tsMadm + b.tsConn) / 3),
			"ds_score":            round3((b.dsSkew + b.dsMadm + b.dsSmall) / 3),
			"score":               round3(b.score),
			"ports":               ports,
		},
		UIDs: p.uidStrings(),
	})
}

func (e *Engine) beaconScore(p *beaconPair) beaconScore {
	ts := e.scratchA[:0]
	for _, t := range p.ts {
		ts = append(ts, float64(t)/1000)
	}
	slices.Sort(ts)
	d := e.scratchB[:0]
	for i := 1; i < len(ts); i++ {
		d = append(d, ts[i]-ts[i-1])
	}
	var b beaconScore
	b.conns = len(ts)
	span := ts[len(ts)-1] - ts[0]
	b.interval = summarize(d, &e.scratchC)
	e.scratchA = ts

	sz := ts[:0] // ts is no longer needed
	for _, s := range p.size {
		sz = append(sz, float64(s))
	}
	b.size = summarize(sz, &e.scratchC)
	e.scratchA, e.scratchB = sz, d

	c := &e.cfg
	b.tsSkew = 1 - math.Abs(b.interval.skew)
	b.tsMadm = math.Max(0, 1-b.interval.mad/c.BeaconJitter.Seconds())
	if m := b.interval.median; m > 0 && span > 0 {
		b.tsConn = math.Min(1, float64(b.conns-1)/(span/m))
	}
	b.dsSkew = 1 - math.Abs(b.size.skew)
	b.dsMadm = math.Max(0, 1-b.size.mad/c.BeaconSizeJitter)
	b.dsSmall = math.Max(0, 1-b.size.median/65535)
	b.score = (b.tsSkew + b.tsMadm + b.tsConn + b.dsSkew + b.dsMadm + b.dsSmall) / 6

	m := b.interval.median
	b.p = 1
	if m > 0 {
		delta := math.Max(0.1*m, 1)
		b.tolerance = delta
		for _, x := range d {
			if math.Abs(x-m) <= delta {
				b.nearMedian++
			}
		}
		lambda := math.Ln2 / m
		p0 := math.Exp(-lambda*math.Max(0, m-delta)) - math.Exp(-lambda*(m+delta))
		b.p = binomTail(b.nearMedian, len(d), p0)
	}
	return b
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// uidStrings returns the pair's uids as strings (for a finding or a
// checkpoint).
func (p *beaconPair) uidStrings() []string {
	if len(p.uids) == 0 {
		return nil
	}
	out := make([]string, len(p.uids))
	for i, u := range p.uids {
		out[i] = string(u)
	}
	return out
}

func (p *beaconPair) mem() int {
	return int(unsafe.Sizeof(*p)) + cap(p.ts)*4 + cap(p.size)*2 + len(p.uids)*44
}
