package behavior

import (
	"math"
	"net/netip"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

// Evidence holds behavioural findings and merges them into the verdicts of
// the flows they concern. It encodes what each detector's finding means
// for a flow:
//
//   - a finding that names a flow's uid is that flow's evidence;
//   - a scan, beacon or long connection of the flow's originator (its
//     victim, for floods) whose window holds the flow's start, and whose
//     peer, if any, is the flow's other end, is evidence too;
//   - fan-out, volume and new destinations judge a host's totals, not its
//     flows: they are listed on the host's flows, but only the flows they
//     name take their p-value.
//
// The findings' p-values are exact under their own null models, not
// calibrated against clean traffic the way the per-flow detectors' are, so
// a finding may claim no more than a calibrated detector can (SetFloors):
// its p-value is floored at the model's resolution (1/(n+1) for a
// calibration reservoir of n flows) and at the rate at which its detector
// fired on the baseline ((findings+1)/(trials+1), detect.BehaviorRate): in
// a network full of timers, one more timer is weak evidence. The strongest
// finding a flow is part of is then combined
// with the flow's own p-value by Fisher's method (two tests, four degrees
// of freedom), so the flows of one scan or beacon keep their own order,
// and a regular timer cannot outrank an unusual flow by regularity alone.
//
// The batch commands fill it with every finding of the input before they
// score; the daemon adds findings as they come, so a flow scored before a
// behaviour was certain does not carry it (the behaviour is an alert of
// its own either way). Expire bounds what the daemon keeps.
type Evidence struct {
	floor    float64            // the least p-value a finding may claim
	floors   map[string]float64 // by detector, where the baseline says more
	findings []detect.Finding
	byUID    map[string][]int32
	byHost   map[netip.Addr][]int32 // acting host; the victim for floods
}

// NewEvidence returns an empty Evidence whose findings are floored at
// nothing (see SetFloors).
func NewEvidence() *Evidence {
	return &Evidence{byUID: map[string][]int32{}, byHost: map[netip.Addr][]int32{}}
}

// SetFloors sets the least p-value a finding may claim: floor for every
// detector, and for a detector with a rate on the baseline the larger of
// floor and (findings+1)/(trials+1).
func (e *Evidence) SetFloors(floor float64, rates []detect.BehaviorRate) {
	e.floor, e.floors = floor, map[string]float64{}
	for _, r := range rates {
		if r.Trials > 0 {
			e.floors[r.Detector] = max(floor, float64(r.Findings+1)/float64(r.Trials+1))
		}
	}
}

// floorFor returns the least p-value a finding of det may claim.
func (e *Evidence) floorFor(det string) float64 {
	if f, ok := e.floors[det]; ok {
		return f
	}
	return e.floor
}

// Add indexes findings. They are copied.
func (e *Evidence) Add(fs ...detect.Finding) {
	for _, f := range fs {
		i := int32(len(e.findings))
		e.findings = append(e.findings, f)
		for _, u := range f.UIDs {
			e.byUID[u] = append(e.byUID[u], i)
		}
		if a, err := netip.ParseAddr(f.Host); err == nil {
			e.byHost[a] = append(e.byHost[a], i)
		}
	}
}

// Len returns the number of findings held.
func (e *Evidence) Len() int { return len(e.findings) }

// Findings returns the findings held, in the order they were added. The
// slice is the Evidence's own: read it, do not keep it.
func (e *Evidence) Findings() []detect.Finding { return e.findings }

// Expire forgets the findings that ended before t, and the oldest ones
// beyond max (max ≤ 0: no limit); it returns how many it forgot. It costs
// one pass over what is held: call it now and then, not per flow.
func (e *Evidence) Expire(t time.Time, max int) int {
	keep := e.findings[:0:0]
	for _, f := range e.findings {
		if !f.End.Add(time.Second).Before(t) {
			keep = append(keep, f)
		}
	}
	if max > 0 && len(keep) > max {
		keep = keep[len(keep)-max:]
	}
	n := len(e.findings) - len(keep)
	if n == 0 {
		return 0
	}
	e.findings, e.byUID, e.byHost = nil, map[string][]int32{}, map[netip.Addr][]int32{}
	e.Add(keep...)
	return n
}

// IsFlood reports whether a detector names the victim, not the acting
// host, as Finding.Host.
func IsFlood(det string) bool {
	return det == SYNFlood || det == HalfOpenSurge || det == UDPFlood
}

// baselineOnly reports whether a detector judges a host's totals (fan-out,
// volume, new destinations) rather than the flows themselves.
func baselineOnly(det string) bool {
	return det == FanOut || det == Volume || det == NewDestinations
}

// Attach sets v.Behaviors to the findings r is part of (see Evidence) and
// combines the strongest of them, floored (SetFloors), with v's p-value and
// score. v.Alert is left as the flow's own evidence decided it: a flow
// alerts on its own merits, and a behaviour is an alert of its own, so the
// benign flows of a scanning host do not each become an alert.
func (e *Evidence) Attach(r *flow.Record, v *detect.Verdict) {
	v.Behaviors = v.Behaviors[:0]
	if e == nil {
		return
	}
	pb := 1.0 // the strongest evidence that counts in the score
	add := func(i int32, named bool) {
		f := &e.findings[i]
		for _, b := range v.Behaviors {
			if b.Detector == f.Detector && b.Start.Equal(f.Start) && b.Host == f.Host {
				return
			}
		}
		v.Behaviors = append(v.Behaviors, *f)
		if named || !baselineOnly(f.Detector) {
			pb = min(pb, max(f.PValue, e.floorFor(f.Detector)))
		}
	}
	defer func() {
		if pb >= 1 {
			return
		}
		v.PValue = fisher2(v.PValue, pb)
		v.Score = -math.Log10(max(v.PValue, 1e-300))
	}()
	if r.UID != "" {
		for _, i := range e.byUID[r.UID] {
			add(i, true)
		}
	}
	match := func(host, other netip.Addr, floods bool) {
		for _, i := range e.byHost[host] {
			f := &e.findings[i]
			if IsFlood(f.Detector) != floods || r.TS.Before(f.Start) || r.TS.After(f.End.Add(time.Second)) {
				continue
			}
			if f.Peer != "" && f.Peer != other.String() {
				continue
			}
			add(i, false)
		}
	}
	match(r.OrigH, r.RespH, false)
	match(r.RespH, r.OrigH, true)
}

// Involves reports whether r belongs to a held finding as far as teaching
// the model goes: its originator is the acting host of a finding (with r's
// responder as the peer, when the finding names one), or its responder the
// victim of a flood, and the finding started before r. Unlike Attach it
// has no end: the flows of a beacon or a scan that come after the finding
// was made are still part of it.
func (e *Evidence) Involves(r *flow.Record) bool {
	if e == nil {
		return false
	}
	in := func(host, other netip.Addr, floods bool) bool {
		for _, i := range e.byHost[host] {
			f := &e.findings[i]
			if IsFlood(f.Detector) != floods || r.TS.Before(f.Start) {
				continue
			}
			if f.Peer != "" && f.Peer != other.String() {
				continue
			}
			return true
		}
		return false
	}
	return in(r.OrigH, r.RespH, false) || in(r.RespH, r.OrigH, true)
}

// fisher2 combines two independent p-values by Fisher's method: the
// chi-squared tail (four degrees of freedom) of -2 ln(p1 p2), which is
// x (1 - ln x) for x = p1 p2.
func fisher2(p1, p2 float64) float64 {
	x := max(p1*p2, 1e-300)
	return min(1, x*(1-math.Log(x)))
}
