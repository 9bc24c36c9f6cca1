package behavior

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

// beaconPair keeps the most recent connections of one (source,
// destination) pair, as RITA groups them: ports do not split a pair.
type beaconPair struct {
	first, last time.Time
	n           uint32   // connections seen
	ts          []uint32 // ring: start offsets from first, milliseconds
	size        []uint16 // ring: orig_bytes, saturated at 65535 (RITA's smallness cut-off)
	head        int      // next ring slot once full
	ports       [4]uint16
	nports      uint8
	next        uint32 // connection count of the next scoring
	reported    bool
	uids        []string // most recent uids, once the pair is a candidate
	uidHead     int
}

// observeBeacon adds the flow to its pair and scores the pair when its
// connection count reaches BeaconMinConns, then at each doubling.
func (e *Engine) observeBeacon(h *host, r *flow.Record) {
	if isGroup(r.RespH) {
		return
	}
	p := h.pairs[r.RespH]
	if p == nil {
		if h.contacts.lastNew {
			// A pair starts at its second connection: most destinations
			// are seen once, and a beacon loses nothing by one interval.
			return
		}
		if len(h.pairs) >= e.cfg.MaxPairsPerHost || e.npairs >= e.cfg.MaxPairs {
			e.st.PairDrops++
			return
		}
		if h.pairs == nil {
			h.pairs = make(map[netip.Addr]*beaconPair, 4)
		}
		p = &beaconPair{first: r.TS, next: uint32(e.cfg.BeaconMinConns)}
		h.pairs[r.RespH] = p
		e.npairs++
	}
	off := r.TS.Sub(p.first).Milliseconds()
	if off < 0 {
		off = 0 // slightly out of order: clamp to the pair's start
	}
	if off > math.MaxUint32 {
		// Seven weeks of one pair: start it again.
		*p = beaconPair{first: r.TS, next: uint32(e.cfg.BeaconMinConns), ts: p.ts[:0], size: p.size[:0]}
		off = 0
	}
	p.n++
	if r.TS.After(p.last) {
		p.last = r.TS
	}
	sz := uint16(min(r.OrigBytes, math.MaxUint16))
	if len(p.ts) < e.cfg.BeaconMaxConns {
		p.ts = append(p.ts, uint32(off))
		p.size = append(p.size, sz)
	} else {
		p.ts[p.head], p.size[p.head] = uint32(off), sz
		p.head = (p.head + 1) % len(p.ts)
	}
	if p.nports < uint8(len(p.ports)) && !slices.Contains(p.ports[:p.nports], r.RespP) {
		p.ports[p.nports] = r.RespP
		p.nports++
	}
	if 2*p.n >= uint32(e.cfg.BeaconMinConns) && r.UID != "" {
		if len(p.uids) < e.cfg.MaxUIDs {
			p.uids = addUID(p.uids, r.UID, e.cfg.MaxUIDs)
		} else {
			p.uids[p.uidHead] = strings.Clone(r.UID) // the Record may be reused
			p.uidHead = (p.uidHead + 1) % len(p.uids)
		}
	}
	if p.n >= p.next {
		p.next = 2 * p.n
		e.scoreBeacon(h, r.RespH, p)
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
		Start:    p.first,
		End:      p.last,
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
		UIDs: slices.Clone(p.uids),
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

func (p *beaconPair) mem() int {
	return int(unsafe.Sizeof(*p)) + cap(p.ts)*4 + cap(p.size)*2 + len(p.uids)*36
}
