package behavior

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"time"

	"github.com/mlads/mlads/internal/detect"
)

// The Engine's state, as the daemon checkpoints it (MarshalState,
// RestoreState): every tracked source with its open window, first-contact
// memory, damped baselines, threshold random walk and beacon pairs, every
// flood victim, the watermark and the counters. The mirror types below
// have exported fields for gob and no pointers into the live state;
// scratch space and the known behaviours (which come from the model) are
// not part of it.

type engineState struct {
	Now, NextSweep, NextPairs time.Time
	Stats                     Stats
	Hosts                     []hostData
	Victims                   []victimData
}

type hostData struct {
	Addr               netip.Addr
	Last, Win, WinLast time.Time
	Flows, NewDst      uint32
	Bytes              uint64
	Top                []topData // absent in states written before volume named its flows
	Scan               *scanData
	Base               [3]ewmaData
	Small              []uint64
	Bloom              []uint64 // nil while the memory is exact
	ContactsN          int
	LastNew            bool
	TRWLLR             float64
	TRWTries, TRWFails uint32
	TRWHold            time.Time
	TRWFailed          []netip.Addr
	TRWUIDs            []string
	Pairs              []pairData
	Pending            []pendingData
	Recon              []reconData // absent in states written before the reconnect detector
}

type reconData struct {
	Dst         netip.Addr
	Port        uint16
	First, Last int64
	N           uint32
	Connected   bool
}

type topData struct {
	UID   string
	Bytes uint64
}

type ewmaData struct {
	Mean, Vr float64
	N        uint32
}

type scanData struct {
	Targets []targetData
	Dropped uint32
	UIDs    []string
}

type targetData struct {
	Dst   netip.Addr
	Port  uint16
	Proto uint8
	OK    bool
}

type pairData struct {
	Dst                   netip.Addr
	First, Last           int64
	TS                    []uint32
	Size                  []uint16
	UIDs                  []string
	N, Next               uint32
	Ports                 [4]uint16
	Head, UIDHead, NPorts uint8
	Reported              bool
}

type pendingData struct {
	Dst         uint64
	First, Last int64
	S1, S2      uint16
	N           uint8
	Repeat      bool
}

type victimData struct {
	Addr                          netip.Addr
	Start, Last                   time.Time
	Total, Half, TCPHalf, SynOnly uint32
	Pkts                          uint64
	Top                           []srcData
	SrcBits                       []uint64 // nil until the first source
	Ports                         []uint16
	UIDs                          []string
	Reported                      uint32
}

type srcData struct {
	Addr   netip.Addr
	N, Err uint32
}

// MarshalState encodes the Engine's state (see RestoreState). It does not
// change the Engine.
func (e *Engine) MarshalState() ([]byte, error) {
	s := engineState{Now: e.now, NextSweep: e.nextSweep, NextPairs: e.nextPairs, Stats: e.st}
	s.Hosts = make([]hostData, 0, len(e.hosts))
	for _, h := range e.hosts {
		s.Hosts = append(s.Hosts, h.data())
	}
	s.Victims = make([]victimData, 0, len(e.victims))
	for a, v := range e.victims {
		d := victimData{Addr: a, Start: v.start, Last: v.last, Total: v.total, Half: v.half, TCPHalf: v.tcpHalf,
			SynOnly: v.synOnly, Pkts: v.pkts, Ports: v.ports, UIDs: v.uids, Reported: v.reported}
		for _, t := range v.top {
			d.Top = append(d.Top, srcData{t.addr, t.n, t.err})
		}
		if v.srcBits != nil {
			d.SrcBits = v.srcBits[:]
		}
		s.Victims = append(s.Victims, d)
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(&s); err != nil {
		return nil, fmt.Errorf("behavior: encode state: %w", err)
	}
	return b.Bytes(), nil
}

func (h *host) data() hostData {
	d := hostData{
		Addr: h.addr, Last: h.last, Win: h.win, WinLast: h.winLast, Flows: h.flows, NewDst: h.newDst, Bytes: h.bytes,
		Small: h.contacts.small, ContactsN: h.contacts.n, LastNew: h.contacts.lastNew,
		TRWLLR: h.trwLLR, TRWTries: h.trwTries, TRWFails: h.trwFails, TRWHold: h.trwHold,
		TRWFailed: h.trwFailed, TRWUIDs: h.trwUIDs,
	}
	for i, b := range h.base {
		d.Base[i] = ewmaData{b.mean, b.vr, b.n}
	}
	for _, t := range h.top {
		if t.uid != "" {
			d.Top = append(d.Top, topData{t.uid, t.bytes})
		}
	}
	if h.contacts.bloom != nil {
		d.Bloom = h.contacts.bloom[:]
	}
	if sw := h.scan; sw != nil {
		sd := &scanData{Dropped: sw.dropped, UIDs: sw.uids, Targets: make([]targetData, len(sw.targets))}
		for i, t := range sw.targets {
			sd.Targets[i] = targetData{t.dst, t.port, t.proto, t.ok}
		}
		d.Scan = sd
	}
	for a, p := range h.pairs {
		d.Pairs = append(d.Pairs, pairData{Dst: a, First: p.first, Last: p.last, TS: p.ts, Size: p.size, UIDs: p.uidStrings(),
			N: p.n, Next: p.next, Ports: p.ports, Head: p.head, UIDHead: p.uidHead, NPorts: p.nports, Reported: p.reported})
	}
	for _, q := range h.pending {
		d.Pending = append(d.Pending, pendingData{q.dst, q.first, q.last, q.s1, q.s2, q.n, q.repeat})
	}
	for _, x := range h.recon {
		d.Recon = append(d.Recon, reconData{x.dst, x.port, x.first, x.last, x.n, x.connected})
	}
	return d
}

// RestoreState replaces the Engine's state with one MarshalState encoded,
// so that the Engine goes on as the one that encoded it would have. The
// Engine keeps its own configuration and known behaviours; a state that
// breaks its limits (more sources than MaxHosts, a window with more
// targets than MaxScanPairs, ...) is refused with an error saying which,
// and the Engine is left unchanged.
func (e *Engine) RestoreState(b []byte) error {
	var s engineState
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&s); err != nil {
		return fmt.Errorf("behavior: decode state: %w", err)
	}
	c := &e.cfg
	if len(s.Hosts) > c.MaxHosts {
		return fmt.Errorf("behavior: state holds %d sources, more than max_hosts %d", len(s.Hosts), c.MaxHosts)
	}
	if len(s.Victims) > c.MaxVictims {
		return fmt.Errorf("behavior: state holds %d flood victims, more than max_victims %d", len(s.Victims), c.MaxVictims)
	}
	hosts := make(map[netip.Addr]*host, len(s.Hosts))
	npairs := 0
	for i := range s.Hosts {
		h, err := e.hostFrom(&s.Hosts[i])
		if err != nil {
			return fmt.Errorf("behavior: state: source %s: %w", s.Hosts[i].Addr, err)
		}
		hosts[h.addr] = h
		npairs += len(h.pairs)
	}
	if npairs > c.MaxPairs {
		return fmt.Errorf("behavior: state holds %d beacon pairs, more than max_pairs %d", npairs, c.MaxPairs)
	}
	victims := make(map[netip.Addr]*victim, len(s.Victims))
	for _, d := range s.Victims {
		if len(d.Top) > c.MaxTopSource || len(d.Ports) > 64 || (d.SrcBits != nil && len(d.SrcBits) != 32) || len(d.UIDs) > c.MaxUIDs {
			return fmt.Errorf("behavior: state: flood victim %s is beyond the limits", d.Addr)
		}
		v := &victim{start: d.Start, last: d.Last, total: d.Total, half: d.Half, tcpHalf: d.TCPHalf, synOnly: d.SynOnly,
			pkts: d.Pkts, ports: d.Ports, uids: d.UIDs, reported: d.Reported}
		for _, t := range d.Top {
			v.top = append(v.top, srcCount{t.Addr, t.N, t.Err})
		}
		if d.SrcBits != nil {
			v.srcBits = (*[32]uint64)(d.SrcBits)
		}
		victims[d.Addr] = v
	}
	st := s.Stats
	st.Findings, st.Known, st.Trials = orEmpty(st.Findings), orEmpty(st.Known), orEmpty(st.Trials)
	e.now, e.nextSweep, e.nextPairs, e.st = s.Now, s.NextSweep, s.NextPairs, st
	e.hosts, e.victims, e.npairs = hosts, victims, npairs
	return nil
}

func orEmpty(m map[string]uint64) map[string]uint64 {
	if m == nil {
		return map[string]uint64{}
	}
	return maps.Clone(m)
}

func (e *Engine) hostFrom(d *hostData) (*host, error) {
	c := &e.cfg
	switch {
	case len(d.Small) > smallContacts, d.Bloom != nil && len(d.Bloom) != 64:
		return nil, fmt.Errorf("first-contact memory of the wrong size")
	case len(d.TRWFailed) > c.MaxEvidence, len(d.TRWUIDs) > c.MaxUIDs:
		return nil, fmt.Errorf("threshold random walk beyond max_evidence or max_uids")
	case len(d.Pairs) > c.MaxPairsPerHost:
		return nil, fmt.Errorf("%d beacon pairs, more than max_pairs_per_host %d", len(d.Pairs), c.MaxPairsPerHost)
	case len(d.Pending) > maxPending:
		return nil, fmt.Errorf("%d pending destinations, more than %d", len(d.Pending), maxPending)
	case len(d.Top) > topFlows:
		return nil, fmt.Errorf("%d largest flows, more than %d", len(d.Top), topFlows)
	}
	h := &host{
		addr: d.Addr, last: d.Last, win: d.Win, winLast: d.WinLast, flows: d.Flows, newDst: d.NewDst, bytes: d.Bytes,
		contacts: contactSet{small: d.Small, n: d.ContactsN, lastNew: d.LastNew},
		trwLLR:   d.TRWLLR, trwTries: d.TRWTries, trwFails: d.TRWFails, trwHold: d.TRWHold,
		trwFailed: d.TRWFailed, trwUIDs: d.TRWUIDs,
	}
	for i, b := range d.Base {
		h.base[i] = ewma{b.Mean, b.Vr, b.N}
	}
	for i, t := range d.Top {
		h.top[i] = topFlow{t.UID, t.Bytes}
	}
	if d.Bloom != nil {
		h.contacts.bloom = (*[64]uint64)(d.Bloom)
	}
	if sd := d.Scan; sd != nil {
		if len(sd.Targets) > c.MaxScanPairs || len(sd.UIDs) > c.MaxUIDs {
			return nil, fmt.Errorf("scan window of %d targets, more than max_scan_pairs %d", len(sd.Targets), c.MaxScanPairs)
		}
		sw := &scanWindow{dropped: sd.Dropped, uids: sd.UIDs, targets: make([]scanTarget, len(sd.Targets))}
		for i, t := range sd.Targets {
			sw.targets[i] = scanTarget{target{t.Dst, portKey{t.Port, t.Proto}}, t.OK}
		}
		if len(sw.targets) > smallTargets {
			sw.index = make(map[target]int32, 2*len(sw.targets))
			for j, x := range sw.targets {
				sw.index[x.target] = int32(j)
			}
		}
		h.scan = sw
	}
	for _, p := range d.Pairs {
		if len(p.TS) != len(p.Size) || len(p.TS) > c.BeaconMaxConns || len(p.UIDs) > beaconUIDs ||
			(len(p.TS) > 0 && int(p.Head) >= len(p.TS)) || int(p.NPorts) > len(p.Ports) ||
			(len(p.UIDs) > 0 && int(p.UIDHead) >= len(p.UIDs)) {
			return nil, fmt.Errorf("beacon pair to %s beyond the limits", p.Dst)
		}
		if h.pairs == nil {
			h.pairs = make(map[netip.Addr]*beaconPair, len(d.Pairs))
		}
		h.pairs[p.Dst] = &beaconPair{first: p.First, last: p.Last, ts: p.TS, size: p.Size, uids: uidBytes(p.UIDs), n: p.N,
			next: p.Next, ports: p.Ports, head: p.Head, uidHead: p.UIDHead, nports: p.NPorts, reported: p.Reported}
	}
	for _, q := range d.Pending {
		h.pending = append(h.pending, pendingPair{q.Dst, q.First, q.Last, q.S1, q.S2, q.N, q.Repeat})
	}
	if len(d.Recon) > maxReconnectRuns {
		return nil, fmt.Errorf("%d reconnect runs, more than %d", len(d.Recon), maxReconnectRuns)
	}
	for _, x := range d.Recon {
		h.recon = append(h.recon, reconnectRun{x.Dst, x.Port, x.First, x.Last, x.N, x.Connected})
	}
	return h, nil
}

// uidBytes is beaconPair.uidStrings's inverse.
func uidBytes(uids []string) [][]byte {
	if len(uids) == 0 {
		return nil
	}
	out := make([][]byte, len(uids))
	for i, u := range uids {
		out[i] = []byte(u)
	}
	return out
}

// MarshalState encodes the findings held, in order, as JSON (their
// evidence is JSON-encodable by contract, and comes back as json.Number
// and []any, which encode to the same documents). The floors are not
// part of it: they come from the model.
func (e *Evidence) MarshalState() ([]byte, error) {
	b, err := json.Marshal(e.findings)
	if err != nil {
		return nil, fmt.Errorf("behavior: encode evidence: %w", err)
	}
	return b, nil
}

// RestoreState replaces the findings held with those MarshalState
// encoded; at most max are kept (the newest), and how many were left out
// is returned.
func (e *Evidence) RestoreState(b []byte, max int) (int, error) {
	var fs []detect.Finding
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&fs); err != nil {
		return 0, fmt.Errorf("behavior: decode evidence: %w", err)
	}
	n := 0
	if max > 0 && len(fs) > max {
		n, fs = len(fs)-max, fs[len(fs)-max:]
	}
	e.findings, e.byUID, e.byHost = nil, map[string][]int32{}, map[netip.Addr][]int32{}
	e.Add(fs...)
	return n, nil
}
