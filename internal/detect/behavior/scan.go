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
	"github.com/mlads/mlads/internal/splitmix"
)

// host is the state kept per source address.
type host struct {
	addr netip.Addr
	last time.Time // newest flow from this source

	// The current window (ScanWindow long): counters for the baseline and,
	// once the source contacts anything, the scan targets.
	win     time.Time
	winLast time.Time
	flows   uint32
	bytes   uint64            // orig_bytes sent
	top     [topFlows]topFlow // the window's largest flows by orig_bytes (volume names them)
	newDst  uint32            // first contacts
	scan    *scanWindow

	base [3]ewma // fan-out, volume, new destinations

	contacts contactSet // destinations contacted (first-contact memory)

	// Threshold random walk.
	trwLLR    float64 // log likelihood ratio of "scanner" against "benign"
	trwTries  uint32
	trwFails  uint32
	trwHold   time.Time // no new TRW finding before this
	trwFailed []netip.Addr
	trwUIDs   []string

	pairs   map[netip.Addr]*beaconPair
	pending []pendingPair

	recon []reconnectRun // failed TCP attempts per target (reconnect.go)
}

// scanWindow holds the distinct targets of one source in one window: a
// slice searched linearly while small, indexed by a map once it grows, so a
// typical host pays a few dozen bytes per target and a scanner stays fast.
// Per-port and per-host counts are made when the window closes.
type scanWindow struct {
	targets []scanTarget
	index   map[target]int32 // nil until len(targets) > smallTargets
	dropped uint32
	uids    []string // uids of failed contacts
}

type scanTarget struct {
	target
	ok bool // some flow to it succeeded
}

const smallTargets = 32

type portKey struct {
	port  uint16
	proto uint8
}

type target struct {
	dst netip.Addr
	portKey
}

type counter struct{ n, failed uint32 }

// scanPort returns the port a flow probes: the responder port for TCP and
// UDP, the echo request type for ICMP (ping sweeps), and for other IP
// protocols the protocol number itself (nmap's IP protocol scan, -sO,
// probes one number after another); ok is false for anything else.
func scanPort(r *flow.Record) (portKey, bool) {
	switch r.Proto {
	case flow.ProtoTCP:
		return portKey{r.RespP, 6}, true
	case flow.ProtoUDP:
		return portKey{r.RespP, 17}, true
	case flow.ProtoICMP:
		if r.OrigP == 8 || r.OrigP == 128 { // echo request, v4 and v6
			return portKey{r.OrigP, 1}, true
		}
	default:
		if r.IPProto != 0 {
			return portKey{uint16(r.IPProto), ipProtoKey}, true
		}
	}
	return portKey{}, false
}

// ipProtoKey marks a portKey whose port is an IP protocol number.
const ipProtoKey = 255

func (k portKey) String() string {
	switch k.proto {
	case 6:
		return fmt.Sprintf("%d/tcp", k.port)
	case 17:
		return fmt.Sprintf("%d/udp", k.port)
	case ipProtoKey:
		return fmt.Sprintf("ip-proto-%d", k.port)
	}
	return "echo/icmp"
}

func (k portKey) transport() string {
	switch k.proto {
	case 6:
		return flow.ProtoTCP
	case 17:
		return flow.ProtoUDP
	case ipProtoKey:
		return flow.ProtoUnknown
	}
	return flow.ProtoICMP
}

// observeWindow counts the flow into the source's current window, closing
// the previous window first when this flow starts after its end.
func (e *Engine) observeWindow(h *host, r *flow.Record) {
	if h.win.IsZero() {
		h.win = r.TS
	} else if !r.TS.Before(h.win.Add(e.cfg.ScanWindow)) {
		e.closeWindow(h, r.TS)
	}
	if r.TS.After(h.winLast) {
		h.winLast = r.TS
	}
	h.flows++
	h.bytes += r.OrigBytes
	h.noteTop(r)

	if isGroup(r.RespH) {
		return
	}
	if h.contacts.add(hashAddr(r.RespH), e.cfg.MaxFirstContacts, &e.st.ContactResets) {
		h.newDst++
	}
	pk, ok := scanPort(r)
	if !ok {
		return
	}
	out := contactOutcome(r)
	if out == unknown {
		return
	}
	sw := h.scan
	if sw == nil {
		sw = &scanWindow{}
		h.scan = sw
	}
	t := target{r.RespH, pk}
	i := -1
	if sw.index != nil {
		if j, ok := sw.index[t]; ok {
			i = int(j)
		}
	} else {
		for j := range sw.targets {
			if sw.targets[j].target == t {
				i = j
				break
			}
		}
	}
	switch {
	case i < 0:
		if len(sw.targets) >= e.cfg.MaxScanPairs {
			sw.dropped++
			e.st.ScanTargetDrops++
			return
		}
		sw.targets = append(sw.targets, scanTarget{t, out == success})
		if sw.index != nil {
			sw.index[t] = int32(len(sw.targets) - 1)
		} else if len(sw.targets) > smallTargets {
			sw.index = make(map[target]int32, 2*len(sw.targets))
			for j, x := range sw.targets {
				sw.index[x.target] = int32(j)
			}
		}
		if out == failure {
			sw.uids = addUID(sw.uids, r.UID, e.cfg.MaxUIDs)
		}
	case out == success:
		// A target that failed first and answered later is not failed.
		sw.targets[i].ok = true
	}
}

// closeWindow ends the source's current window: scans are judged, the
// baseline is compared and updated, and a new window starts at next.
func (e *Engine) closeWindow(h *host, next time.Time) {
	if h.win.IsZero() {
		return
	}
	start, end := h.win, h.winLast
	fanOut := 0
	if sw := h.scan; sw != nil && len(sw.targets) > 0 {
		clear(e.portCount)
		clear(e.dstCount)
		for _, t := range sw.targets {
			pc, dc := e.portCount[t.portKey], e.dstCount[t.dst]
			pc.n++
			dc.n++
			if !t.ok {
				pc.failed++
				dc.failed++
			}
			e.portCount[t.portKey], e.dstCount[t.dst] = pc, dc
		}
		fanOut = len(e.dstCount)
		e.trial(HorizontalScan, VerticalScan)
		e.judgeHorizontal(h, sw, e.portCount, start, end)
		e.judgeVertical(h, sw, e.dstCount, start, end)
	}
	if fanOut > 0 {
		// Only active windows are judged and learned: a host that is often
		// idle (or only multicasting) is compared with its busy windows,
		// not with its silence.
		e.trial(FanOut, Volume, NewDestinations)
		e.judgeBaseline(h, start, end, fanOut)
	}

	if sw := h.scan; sw != nil && cap(sw.targets) <= smallTargets {
		// Small windows keep their slice for the next one.
		sw.targets, sw.index, sw.dropped, sw.uids = sw.targets[:0], nil, 0, nil
	} else {
		h.scan = nil
	}
	h.flows, h.bytes, h.newDst, h.top = 0, 0, 0, [topFlows]topFlow{}
	h.win, h.winLast = next, next
}

// scanP is the scan p-value: both the number of distinct targets (Poisson
// with mean ScanNullTargets) and the number of failed ones (binomial with
// ScanNullFailRate) must be unlikely for a benign host, so the p-value of
// this intersection-union test is the larger of the two.
func (e *Engine) scanP(c counter) float64 {
	p1 := poissonTail(int(c.n), e.cfg.ScanNullTargets)
	p2 := binomTail(int(c.failed), int(c.n), e.cfg.ScanNullFailRate)
	return max(p1, p2)
}

func (e *Engine) scanOK(c counter, min int) bool {
	return int(c.n) >= min && float64(c.failed) >= e.cfg.ScanMinFailedShare*float64(c.n)
}

func (e *Engine) judgeHorizontal(h *host, sw *scanWindow, ports map[portKey]counter, start, end time.Time) {
	var best portKey
	var bc counter
	var others []string
	for k, c := range ports {
		if !e.scanOK(c, e.cfg.HorizontalHosts) {
			continue
		}
		if c.n > bc.n || (c.n == bc.n && (k.proto < best.proto || (k.proto == best.proto && k.port < best.port))) {
			if bc.n > 0 {
				others = append(others, best.String())
			}
			best, bc = k, c
		} else {
			others = append(others, k.String())
		}
	}
	if bc.n == 0 {
		return
	}
	slices.Sort(others)
	var hosts []string
	for _, t := range sw.targets {
		if !t.ok && t.portKey == best && len(hosts) < e.cfg.MaxEvidence {
			hosts = append(hosts, t.dst.String())
		}
	}
	ev := map[string]any{
		"port":         int(best.port),
		"proto":        best.transport(),
		"hosts_tried":  int(bc.n),
		"hosts_failed": int(bc.failed),
		"failed_share": round3(float64(bc.failed) / float64(bc.n)),
		"sample_hosts": hosts,
		"window_s":     e.cfg.ScanWindow.Seconds(),
	}
	if len(others) > 0 {
		ev["other_ports"] = truncate(others, e.cfg.MaxEvidence)
		ev["other_ports_count"] = len(others)
	}
	if sw.dropped > 0 {
		ev["targets_not_stored"] = int(sw.dropped)
	}
	e.emit(detect.Finding{
		Detector: HorizontalScan,
		Host:     h.addr.String(),
		Start:    start,
		End:      end,
		PValue:   e.scanP(bc),
		Summary: fmt.Sprintf("%s tried %d hosts on %s in %s (%d failed)",
			h.addr, bc.n, best, fmtDur(end.Sub(start)), bc.failed),
		Evidence: ev,
		UIDs:     slices.Clone(sw.uids),
	})
}

func (e *Engine) judgeVertical(h *host, sw *scanWindow, dsts map[netip.Addr]counter, start, end time.Time) {
	var best netip.Addr
	var bc counter
	others := 0
	for d, c := range dsts {
		if !e.scanOK(c, e.cfg.VerticalPorts) {
			continue
		}
		if c.n > bc.n || (c.n == bc.n && d.Less(best)) {
			if bc.n > 0 {
				others++
			}
			best, bc = d, c
		} else {
			others++
		}
	}
	if bc.n == 0 {
		return
	}
	var ports []string
	for _, t := range sw.targets {
		if !t.ok && t.dst == best && len(ports) < e.cfg.MaxEvidence {
			ports = append(ports, t.portKey.String())
		}
	}
	ev := map[string]any{
		"ports_tried":  int(bc.n),
		"ports_failed": int(bc.failed),
		"failed_share": round3(float64(bc.failed) / float64(bc.n)),
		"sample_ports": ports,
		"window_s":     e.cfg.ScanWindow.Seconds(),
	}
	if others > 0 {
		ev["other_hosts_scanned"] = others
	}
	if sw.dropped > 0 {
		ev["targets_not_stored"] = int(sw.dropped)
	}
	e.emit(detect.Finding{
		Detector: VerticalScan,
		Host:     h.addr.String(),
		Peer:     best.String(),
		Start:    start,
		End:      end,
		PValue:   e.scanP(bc),
		Summary: fmt.Sprintf("%s tried %d ports on %s in %s (%d failed)",
			h.addr, bc.n, best, fmtDur(end.Sub(start)), bc.failed),
		Evidence: ev,
		UIDs:     slices.Clone(sw.uids),
	})
}

// observeTRW runs the threshold random walk on the outcome of each TCP
// first contact of the source. The walk restarts after each decision;
// after "scanner" no new finding is made for TRWHold. The p-value is
// 1/Λ: under the benign hypothesis the likelihood ratio Λ is a
// martingale with mean 1, so by Ville's inequality it ever reaches x with
// probability at most 1/x.
func (e *Engine) observeTRW(h *host, r *flow.Record) {
	if r.Proto != flow.ProtoTCP || isGroup(r.RespH) || !h.contacts.lastNew {
		return
	}
	out := contactOutcome(r)
	if out == unknown || r.TS.Before(h.trwHold) {
		return
	}
	c := &e.cfg
	h.trwTries++
	if out == success {
		h.trwLLR += math.Log(c.TRWSuccessScanner / c.TRWSuccessBenign)
	} else {
		h.trwFails++
		h.trwLLR += math.Log((1 - c.TRWSuccessScanner) / (1 - c.TRWSuccessBenign))
		if len(h.trwFailed) < c.MaxEvidence {
			h.trwFailed = append(h.trwFailed, r.RespH)
		}
		h.trwUIDs = addUID(h.trwUIDs, r.UID, c.MaxUIDs)
	}
	upper := math.Log(c.TRWDetect / c.TRWFalseAlarm)
	lower := math.Log((1 - c.TRWDetect) / (1 - c.TRWFalseAlarm))
	if h.trwLLR >= upper || h.trwLLR <= lower {
		e.trial(TRWScan)
	}
	switch {
	case h.trwLLR >= upper:
		hosts := make([]string, len(h.trwFailed))
		for i, a := range h.trwFailed {
			hosts[i] = a.String()
		}
		e.emit(detect.Finding{
			Detector: TRWScan,
			Host:     h.addr.String(),
			Start:    h.win,
			End:      r.TS,
			PValue:   math.Exp(-h.trwLLR),
			Summary: fmt.Sprintf("%s failed %d of %d first contacts (threshold random walk, likelihood ratio %.0f)",
				h.addr, h.trwFails, h.trwTries, math.Exp(h.trwLLR)),
			Evidence: map[string]any{
				"first_contacts":   int(h.trwTries),
				"failed_contacts":  int(h.trwFails),
				"likelihood_ratio": round3(math.Exp(h.trwLLR)),
				"hosts_failed":     hosts,
				"theta0":           c.TRWSuccessBenign,
				"theta1":           c.TRWSuccessScanner,
			},
			UIDs: h.trwUIDs,
		})
		h.trwHold = r.TS.Add(c.TRWHold)
		h.resetTRW()
	case h.trwLLR <= lower:
		h.resetTRW()
	}
}

func (h *host) resetTRW() {
	h.trwLLR, h.trwTries, h.trwFails = 0, 0, 0
	h.trwFailed, h.trwUIDs = nil, nil
}

// contactSet remembers the destinations a source contacted: exactly (a
// short list of hashes) while small, then in a 4096-bit Bloom filter with
// two hashes that is reset when it has taken max entries, so memory per
// source stays under 600 bytes.
type contactSet struct {
	small   []uint64
	bloom   *[64]uint64
	n       int
	lastNew bool // whether the last add was a first contact
}

const smallContacts = 32

// add records h and reports whether it was new.
func (c *contactSet) add(h uint64, max int, resets *uint64) bool {
	c.lastNew = false
	if c.bloom == nil {
		if slices.Contains(c.small, h) {
			return false
		}
		if len(c.small) < smallContacts {
			c.small = append(c.small, h)
			c.lastNew = true
			return true
		}
		c.bloom = new([64]uint64)
		for _, x := range c.small {
			c.set(x)
		}
		c.n, c.small = len(c.small), nil
	}
	if c.has(h) {
		return false
	}
	if c.n >= max {
		*resets++
		*c.bloom = [64]uint64{}
		c.n = 0
	}
	c.set(h)
	c.n++
	c.lastNew = true
	return true
}

func (c *contactSet) set(h uint64) {
	a, b := h&4095, (h>>32)&4095
	c.bloom[a/64] |= 1 << (a % 64)
	c.bloom[b/64] |= 1 << (b % 64)
}

func (c *contactSet) has(h uint64) bool {
	a, b := h&4095, (h>>32)&4095
	return c.bloom[a/64]&(1<<(a%64)) != 0 && c.bloom[b/64]&(1<<(b%64)) != 0
}

// hashAddr mixes an address into 64 bits (splitmix64 finaliser).
func hashAddr(a netip.Addr) uint64 {
	b := a.As16()
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	return splitmix.Mix64(hi ^ splitmix.Mix64(lo))
}

// size estimates the bytes held by the source's state. Map entries are
// charged key + value + 8 bytes of table overhead.
func (h *host) mem() int {
	n := int(unsafe.Sizeof(*h)) + 24 + 8 // struct, map key and slot in e.hosts
	n += cap(h.contacts.small) * 8
	if h.contacts.bloom != nil {
		n += 512
	}
	n += cap(h.trwFailed)*24 + cap(h.trwUIDs)*16 + 20*len(h.trwUIDs)
	n += reconnectMem(h.recon) + topFlows*24 // the largest flows' uids
	if sw := h.scan; sw != nil {
		n += int(unsafe.Sizeof(*sw)) + cap(sw.targets)*int(unsafe.Sizeof(scanTarget{})) + len(sw.uids)*36
		if sw.index != nil {
			n += 48 + len(sw.index)*(int(unsafe.Sizeof(target{}))+4+8)
		}
	}
	n += cap(h.pending) * int(unsafe.Sizeof(pendingPair{}))
	if h.pairs != nil {
		n += 48
		for _, p := range h.pairs {
			n += 24 + 8 + 8 + p.mem()
		}
	}
	return n
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func truncate(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// fmtDur prints a duration rounded for people: "4m10s", "2h0m", "850ms".
func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	case d >= time.Second:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}
