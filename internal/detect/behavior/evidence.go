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
// Evidence counts in the flow's score: the smaller p-value wins.
//
// The batch commands fill it with every finding of the input before they
// score; the daemon adds findings as they come, so a flow scored before a
// behaviour was certain does not carry it (the behaviour is an alert of
// its own either way). Expire bounds what the daemon keeps.
type Evidence struct {
	findings []detect.Finding
	byUID    map[string][]int32
	byHost   map[netip.Addr][]int32 // acting host; the victim for floods
}

// NewEvidence returns an empty Evidence.
func NewEvidence() *Evidence {
	return &Evidence{byUID: map[string][]int32{}, byHost: map[netip.Addr][]int32{}}
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
	*e = *NewEvidence()
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
// lets their p-values lower v's: the smaller p-value wins, and the verdict
// alerts when it is below alpha.
func (e *Evidence) Attach(r *flow.Record, v *detect.Verdict, alpha float64) {
	v.Behaviors = v.Behaviors[:0]
	if e == nil {
		return
	}
	add := func(i int32, named bool) {
		f := &e.findings[i]
		for _, b := range v.Behaviors {
			if b.Detector == f.Detector && b.Start.Equal(f.Start) && b.Host == f.Host {
				return
			}
		}
		v.Behaviors = append(v.Behaviors, *f)
		if (named || !baselineOnly(f.Detector)) && f.PValue < v.PValue {
			v.PValue = f.PValue
			v.Score = -math.Log10(max(f.PValue, 1e-300))
			v.Alert = v.PValue < alpha
		}
	}
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
