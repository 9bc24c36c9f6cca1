package behavior

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

// Detector names used in detect.Finding.Detector.
const (
	HorizontalScan  = "horizontal_scan"
	VerticalScan    = "vertical_scan"
	TRWScan         = "trw_scan"
	SYNFlood        = "syn_flood"
	HalfOpenSurge   = "half_open_surge"
	UDPFlood        = "udp_flood"
	Beacon          = "beacon"
	LongConnection  = "long_connection"
	FanOut          = "fan_out"
	Volume          = "volume"
	NewDestinations = "new_destinations"
	Reconnect       = "reconnect"
)

// Engine runs the behavioural detectors over a stream of flows.
type Engine struct {
	cfg Config

	now       time.Time // newest flow timestamp seen (the watermark)
	nextSweep time.Time
	nextPairs time.Time // next sweep of idle beacon pairs

	hosts   map[netip.Addr]*host   // by originator
	victims map[netip.Addr]*victim // by flood victim
	npairs  int                    // beacon pairs over all hosts

	st    Stats
	out   []detect.Finding    // findings of the current call
	known map[uint64]struct{} // behaviours the baseline had (SetKnown)

	// Scratch space, reused across calls: beacon scoring, and the per-port
	// and per-host counts of a closing scan window.
	scratchA, scratchB, scratchC []float64
	portCount                    map[portKey]counter
	dstCount                     map[netip.Addr]counter
}

// Stats counts what the Engine tracks and what its limits made it drop.
type Stats struct {
	Flows   uint64 // flows observed
	Hosts   int    // sources tracked now
	Victims int    // flood victims tracked now
	Pairs   int    // beacon pairs tracked now

	HostEvictions    uint64 // sources forgotten to make room (their open windows were closed first)
	HostDrops        uint64 // flows whose source could not be tracked
	VictimEvictions  uint64
	VictimDrops      uint64
	PairDrops        uint64 // flows whose beacon pair could not be tracked
	ScanTargetDrops  uint64 // scan targets beyond MaxScanPairs (counted in evidence, not stored)
	ContactResets    uint64 // first-contact memories reset because they were full
	PendingEvictions uint64 // destinations with one or two connections forgotten to make room

	Findings map[string]uint64 // findings reported, by detector
	Known    map[string]uint64 // findings not reported because the baseline had them (SetKnown), by detector
	// Trials counts, by detector, the judgements that could have made a
	// finding: windows judged for scans and host baselines, beacon pairs
	// scored, victim windows judged, TRW decisions, flows for long
	// connections. Findings/Trials over clean traffic is how often a
	// detector fires on it (Learner.Rates).
	Trials map[string]uint64

	// Bytes is an estimate of the memory held by the tracked state and
	// BytesPerHost that divided by the number of tracked sources.
	Bytes        int
	BytesPerHost float64
}

// New returns an Engine. Zero fields of cfg take their DefaultConfig
// values; call cfg.Validate first to reject other out-of-range values.
func New(cfg Config) *Engine {
	cfg = withDefaults(cfg)
	return &Engine{
		cfg:       cfg,
		hosts:     make(map[netip.Addr]*host),
		victims:   make(map[netip.Addr]*victim),
		portCount: make(map[portKey]counter),
		dstCount:  make(map[netip.Addr]counter),
		st:        Stats{Findings: make(map[string]uint64), Known: make(map[string]uint64), Trials: make(map[string]uint64)},
	}
}

// Observe takes the next flow, in roughly increasing r.TS order, and
// returns the findings that became certain with it (nil when none). r is
// only read during the call; nothing of it is retained.
func (e *Engine) Observe(r *flow.Record) []detect.Finding {
	e.out = nil
	e.st.Flows++
	ts := r.TS
	if ts.After(e.now) {
		e.now = ts
	}
	if e.nextSweep.IsZero() {
		e.nextSweep = e.now.Add(e.cfg.SweepEvery)
	} else if !e.now.Before(e.nextSweep) {
		e.sweep(false)
		e.nextSweep = e.now.Add(e.cfg.SweepEvery)
	}

	e.observeFlood(r)
	e.observeLong(r)
	if r.OrigH.IsValid() {
		if h := e.host(r.OrigH); h != nil {
			if ts.After(h.last) {
				h.last = ts
			}
			e.observeWindow(h, r)
			e.observeTRW(h, r)
			e.observeBeacon(h, r)
			e.observeReconnect(h, r)
		}
	}
	return e.out
}

// Flush ends the input: it closes every open window, scores every beacon
// pair that has enough connections and was not reported yet, and returns
// those findings. The Engine may be used again afterwards.
func (e *Engine) Flush() []detect.Finding {
	e.out = nil
	e.sweep(true)
	return e.out
}

// sortFindings orders findings made by a sweep, which walks maps, so that
// the output does not depend on map order.
func sortFindings(fs []detect.Finding) {
	slices.SortStableFunc(fs, func(a, b detect.Finding) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Detector, b.Detector),
			cmp.Compare(a.Host, b.Host), cmp.Compare(a.Peer, b.Peer))
	})
}

// Stats returns the counters and a fresh estimate of the state's size.
func (e *Engine) Stats() Stats {
	s := e.st
	s.Findings, s.Known, s.Trials = maps.Clone(e.st.Findings), maps.Clone(e.st.Known), maps.Clone(e.st.Trials)
	s.Hosts, s.Victims, s.Pairs = len(e.hosts), len(e.victims), e.npairs
	s.Bytes = 0
	for _, h := range e.hosts {
		s.Bytes += h.mem()
	}
	for _, v := range e.victims {
		s.Bytes += v.mem()
	}
	if s.Hosts > 0 {
		s.BytesPerHost = float64(s.Bytes) / float64(s.Hosts)
	}
	return s
}

// trial counts a judgement of each detector (Stats.Trials).
func (e *Engine) trial(detectors ...string) {
	for _, d := range detectors {
		e.st.Trials[d]++
	}
}

// emit records a finding for the current call, unless the baseline
// already had it.
func (e *Engine) emit(f detect.Finding) {
	if e.isKnown(&f) {
		e.st.Known[f.Detector]++
		return
	}
	f.PValue = clampP(f.PValue)
	f.Score = score(f.PValue)
	e.st.Findings[f.Detector]++
	e.out = append(e.out, f)
}

// host returns the state of source a, creating it within MaxHosts; nil
// when it cannot be tracked.
func (e *Engine) host(a netip.Addr) *host {
	if h, ok := e.hosts[a]; ok {
		return h
	}
	if len(e.hosts) >= e.cfg.MaxHosts {
		e.evictHosts()
		if len(e.hosts) >= e.cfg.MaxHosts {
			e.st.HostDrops++
			return nil
		}
	}
	h := &host{addr: a}
	e.hosts[a] = h
	return h
}

// evictHosts makes room: first sources idle for a scan window, then an
// arbitrary sixteenth of the table. Open windows are closed (and may
// report) before a source is forgotten.
func (e *Engine) evictHosts() {
	idle := e.now.Add(-e.cfg.ScanWindow)
	for a, h := range e.hosts {
		if h.last.Before(idle) {
			e.dropHost(a, h)
		}
	}
	if len(e.hosts) < e.cfg.MaxHosts {
		return
	}
	n := max(1, e.cfg.MaxHosts/16)
	for a, h := range e.hosts {
		if n == 0 {
			break
		}
		e.dropHost(a, h)
		n--
	}
}

func (e *Engine) dropHost(a netip.Addr, h *host) {
	e.closeWindow(h, e.now)
	e.closeReconnects(h, e.now, true)
	for d, p := range h.pairs {
		e.scoreBeacon(h, d, p)
	}
	e.npairs -= len(h.pairs)
	delete(e.hosts, a)
	e.st.HostEvictions++
}

// sweep closes the windows that ended before the watermark and forgets
// idle state; with all set (Flush) it closes everything.
func (e *Engine) sweep(all bool) {
	n := len(e.out)
	defer func() { sortFindings(e.out[n:]) }()
	// Beacon pairs idle for BeaconIdle are looked for 24 times per
	// BeaconIdle, not at every sweep.
	pairs := all || !e.now.Before(e.nextPairs)
	if pairs {
		e.nextPairs = e.now.Add(e.cfg.BeaconIdle / 24)
	}
	for a, h := range e.hosts {
		if h.scan != nil || h.flows > 0 {
			if all || !e.now.Before(h.win.Add(e.cfg.ScanWindow)) {
				e.closeWindow(h, e.now)
			}
		}
		if h.recon != nil {
			e.closeReconnects(h, e.now, all)
		}
		for d, p := range h.pairs {
			if !pairs {
				break
			}
			idle := e.now.UnixNano()-p.last >= int64(e.cfg.BeaconIdle)
			if all || idle {
				e.scoreBeacon(h, d, p)
			}
			if idle {
				delete(h.pairs, d)
				e.npairs--
			}
		}
		if pairs {
			h.pending = slices.DeleteFunc(h.pending, func(q pendingPair) bool {
				return e.now.UnixNano()-q.last >= int64(e.cfg.BeaconIdle)
			})
		}
		if !all && len(h.pairs) == 0 && h.recon == nil && !e.now.Before(h.last.Add(e.cfg.HostIdle)) {
			delete(e.hosts, a)
		}
	}
	for a, v := range e.victims {
		if all || !e.now.Before(v.start.Add(e.cfg.FloodWindow)) {
			e.closeVictim(a, v)
			delete(e.victims, a)
		}
	}
}

// outcome of a flow as a contact: did the responder take part?
type outcome uint8

const (
	unknown outcome = iota
	success
	failure
)

// contactOutcome says whether a flow reached a live service: success,
// failure (the probe went unanswered, was refused or was only ever reset),
// or unknown when the log cannot tell.
//
// TCP is judged by Zeek's history when the log has one: the responder
// completing a handshake, acknowledging, sending data or closing (h, a, d,
// f) is success; a responder that only reset (r) is a failed probe, whatever
// the state (FIN, NULL, Xmas, ACK, window and Maimon scans are answered by
// a reset, which Zeek logs as RSTR or OTH, never as a handshake). Otherwise,
// and without a history, the state decides. A flow with no responder
// packets at all stays unknown when its state is OTH: a capture that sees
// one direction only must not turn every flow into a failed probe.
// UDP, ICMP and other IP protocols succeed when the responder sent anything.
//
// A failure whose history shows bad checksums (Zeek's C/c) is unknown: the
// missing answer may be an artefact of checksum offload in the capture.
func contactOutcome(r *flow.Record) outcome {
	o := unknown
	switch r.Proto {
	case flow.ProtoTCP:
		if h := r.History; h != "" && !strings.ContainsAny(h, "Cc") {
			switch {
			case strings.ContainsAny(h, "hadf"):
				return success
			case strings.ContainsRune(h, 'r'):
				return failure
			}
		}
		switch r.ConnState {
		case "SF", "S1", "S2", "S3", "RSTO", "RSTR":
			return success
		case "S0", "REJ", "RSTOS0", "RSTRH", "SH", "SHR":
			o = failure
		}
	default: // UDP, ICMP, other IP protocols
		if r.RespPkts > 0 {
			return success
		}
		if r.OrigPkts > 0 {
			o = failure
		}
	}
	if o == failure && strings.ContainsAny(r.History, "Cc") {
		return unknown
	}
	return o
}

// isGroup reports whether a is not a single host: multicast, broadcast or
// unspecified.
func isGroup(a netip.Addr) bool {
	if !a.IsValid() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	if a.Is4() {
		b := a.As4()
		return b == [4]byte{255, 255, 255, 255} || b[3] == 255
	}
	return false
}

// addUID appends a copy of uid to a bounded sample. Copies, because the
// caller's Record (and its strings) may be reused after Observe returns.
func addUID(s []string, uid string, limit int) []string {
	if uid == "" || len(s) >= limit {
		return s
	}
	return append(s, strings.Clone(uid))
}

func withDefaults(c Config) Config {
	d := DefaultConfig()
	setD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setI := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setF := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	setD(&c.ScanWindow, d.ScanWindow)
	setI(&c.HorizontalHosts, d.HorizontalHosts)
	setI(&c.VerticalPorts, d.VerticalPorts)
	setF(&c.ScanNullTargets, d.ScanNullTargets)
	setF(&c.ScanNullFailRate, d.ScanNullFailRate)
	setI(&c.MaxScanPairs, d.MaxScanPairs)
	setF(&c.TRWSuccessBenign, d.TRWSuccessBenign)
	setF(&c.TRWSuccessScanner, d.TRWSuccessScanner)
	setF(&c.TRWDetect, d.TRWDetect)
	setF(&c.TRWFalseAlarm, d.TRWFalseAlarm)
	setD(&c.TRWHold, d.TRWHold)
	setI(&c.MaxFirstContacts, d.MaxFirstContacts)
	setD(&c.FloodWindow, d.FloodWindow)
	setI(&c.FloodMinFlows, d.FloodMinFlows)
	setF(&c.FloodMinShare, d.FloodMinShare)
	setF(&c.FloodNullFlows, d.FloodNullFlows)
	setI(&c.MaxVictims, d.MaxVictims)
	setI(&c.BeaconMinConns, d.BeaconMinConns)
	setI(&c.BeaconMaxConns, d.BeaconMaxConns)
	setF(&c.BeaconMinScore, d.BeaconMinScore)
	setF(&c.BeaconMaxP, d.BeaconMaxP)
	setD(&c.BeaconMinInterval, d.BeaconMinInterval)
	setD(&c.BeaconJitter, d.BeaconJitter)
	setF(&c.BeaconSizeJitter, d.BeaconSizeJitter)
	setD(&c.BeaconIdle, d.BeaconIdle)
	setI(&c.MaxPairsPerHost, d.MaxPairsPerHost)
	setI(&c.MaxPairs, d.MaxPairs)
	setD(&c.LongDuration, d.LongDuration)
	setD(&c.ReconnectWindow, d.ReconnectWindow)
	setI(&c.ReconnectAttempts, d.ReconnectAttempts)
	setF(&c.ReconnectNullAttempts, d.ReconnectNullAttempts)
	setF(&c.BaselineAlpha, d.BaselineAlpha)
	setI(&c.BaselineMinWindows, d.BaselineMinWindows)
	setF(&c.BaselineZ, d.BaselineZ)
	setF(&c.BaselineMinSD, d.BaselineMinSD)
	setI(&c.FanOutMin, d.FanOutMin)
	if c.VolumeMinBytes == 0 {
		c.VolumeMinBytes = d.VolumeMinBytes
	}
	setI(&c.NewDestMin, d.NewDestMin)
	setI(&c.MaxHosts, d.MaxHosts)
	setD(&c.HostIdle, d.HostIdle)
	setD(&c.SweepEvery, d.SweepEvery)
	setI(&c.MaxUIDs, d.MaxUIDs)
	setI(&c.MaxEvidence, d.MaxEvidence)
	setI(&c.MaxTopSource, d.MaxTopSource)
	return c
}
