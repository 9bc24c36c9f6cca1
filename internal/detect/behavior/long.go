package behavior

import (
	"fmt"
	"strings"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

// observeLong reports a connection that lasted LongDuration or more. A
// connection Zeek saw established but not closed (S1, or SH/OTH whose
// history has no FIN or RST) is marked still_open. The p-value is the
// tail of a Pareto duration law with index 1 and scale 1 s, P(D >= d) =
// 1s/d: connection durations are heavy-tailed, so this is a lenient null
// (1 h gives 2.8e-4, one day 1.2e-5).
func (e *Engine) observeLong(r *flow.Record) {
	e.trial(LongConnection)
	if r.Duration < e.cfg.LongDuration {
		return
	}
	open := r.ConnState == "S1" || ((r.ConnState == "OTH" || r.ConnState == "SH") &&
		!strings.ContainsAny(r.History, "FfRr"))
	ev := map[string]any{
		"duration_s": round3(r.Duration.Seconds()),
		"orig_bytes": r.OrigBytes,
		"resp_bytes": r.RespBytes,
		"port":       int(r.RespP),
		"proto":      r.Proto,
		"conn_state": r.ConnState,
		"still_open": open,
	}
	if r.Service != "" {
		ev["service"] = r.Service
	}
	state := "closed"
	if open {
		state = "still open"
	}
	e.emit(detect.Finding{
		Detector: LongConnection,
		Host:     r.OrigH.String(),
		Peer:     r.RespH.String(),
		Start:    r.TS,
		End:      r.End(),
		PValue:   float64(time.Second) / float64(r.Duration),
		Summary: fmt.Sprintf("%s held a %s connection to %s:%d for %s (%s)",
			r.OrigH, r.Proto, r.RespH, r.RespP, fmtDur(r.Duration), state),
		Evidence: ev,
		UIDs:     addUID(nil, r.UID, 1),
	})
}
