package behavior

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
	"unsafe"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

// reconnectRun counts one source's failed TCP connection attempts to one
// (destination, port) within ReconnectWindow of the first, a second or
// more apart: a client that
// keeps retrying a server that refuses or ignores it. Malware retrying its
// command-and-control server does this; so does a client of a dead
// service, which a baseline that had it knows (known.go). Slips reports
// the same pattern as "multiple reconnection attempts".
type reconnectRun struct {
	dst         netip.Addr
	port        uint16
	first, last int64 // unix nanoseconds of the first and last failed attempt
	n           uint32
	connected   bool // a connection to the target succeeded during the run
}

// maxReconnectRuns bounds the runs kept per source; when full, the run
// whose last attempt is oldest is judged and makes room.
const maxReconnectRuns = 8

// observeReconnect counts a failed TCP attempt into its run, and notes a
// successful one. A run is judged when it ends: at the first attempt to
// its target after ReconnectWindow, at a sweep past the window, or when
// its source is forgotten (closeReconnects).
func (e *Engine) observeReconnect(h *host, r *flow.Record) {
	if r.Proto != flow.ProtoTCP || isGroup(r.RespH) {
		return
	}
	out := contactOutcome(r)
	if out == unknown {
		return
	}
	ts := r.TS.UnixNano()
	i := slices.IndexFunc(h.recon, func(x reconnectRun) bool { return x.dst == r.RespH && x.port == r.RespP })
	if i >= 0 && ts-h.recon[i].first >= int64(e.cfg.ReconnectWindow) {
		e.judgeReconnect(h, &h.recon[i])
		h.recon = slices.Delete(h.recon, i, i+1)
		i = -1
	}
	if out == success {
		if i >= 0 {
			h.recon[i].connected = true
		}
		return
	}
	if i >= 0 {
		x := &h.recon[i]
		// Attempts within a second of the last one counted are made in
		// parallel (a browser opening several connections at once), not
		// retried: they count once.
		if d := ts - x.last; d < int64(time.Second) && d > -int64(time.Second) {
			return
		}
		x.n++
		x.first, x.last = min(x.first, ts), max(x.last, ts)
		return
	}
	if len(h.recon) >= maxReconnectRuns {
		old := 0
		for j := range h.recon {
			if h.recon[j].last < h.recon[old].last {
				old = j
			}
		}
		e.judgeReconnect(h, &h.recon[old])
		h.recon = slices.Delete(h.recon, old, old+1)
	}
	h.recon = append(h.recon, reconnectRun{dst: r.RespH, port: r.RespP, first: ts, last: ts, n: 1})
}

// closeReconnects judges and forgets the runs whose window ended before
// now; with all set, every run.
func (e *Engine) closeReconnects(h *host, now time.Time, all bool) {
	t := now.UnixNano()
	h.recon = slices.DeleteFunc(h.recon, func(x reconnectRun) bool {
		if !all && t-x.first < int64(e.cfg.ReconnectWindow) {
			return false
		}
		e.judgeReconnect(h, &x)
		return true
	})
	if len(h.recon) == 0 {
		h.recon = nil
	}
}

// judgeReconnect reports a run of at least ReconnectAttempts failed
// attempts and fewer than FloodMinFlows: that many is a flood, which the
// flood detectors report at its victim. The p-value is the Poisson tail of the attempt count with a
// null mean of ReconnectNullAttempts: a benign client gives up or gets
// through after a retry or two.
func (e *Engine) judgeReconnect(h *host, x *reconnectRun) {
	e.trial(Reconnect)
	if int(x.n) < e.cfg.ReconnectAttempts || int(x.n) >= e.cfg.FloodMinFlows {
		return
	}
	start, end := time.Unix(0, x.first).UTC(), time.Unix(0, x.last).UTC()
	then := "never connected"
	if x.connected {
		then = "then connected"
	}
	e.emit(detect.Finding{
		Detector: Reconnect,
		Host:     h.addr.String(),
		Peer:     x.dst.String(),
		Start:    start,
		End:      end,
		PValue:   poissonTail(int(x.n), e.cfg.ReconnectNullAttempts),
		Summary: fmt.Sprintf("%s failed to connect to %s port %d/tcp %d times in %s (%s)",
			h.addr, x.dst, x.port, x.n, fmtDur(end.Sub(start)), then),
		Evidence: map[string]any{
			"port":      int(x.port),
			"proto":     flow.ProtoTCP,
			"attempts":  int(x.n),
			"connected": x.connected,
			"window_s":  e.cfg.ReconnectWindow.Seconds(),
		},
	})
}

func reconnectMem(runs []reconnectRun) int {
	return cap(runs) * int(unsafe.Sizeof(reconnectRun{}))
}
