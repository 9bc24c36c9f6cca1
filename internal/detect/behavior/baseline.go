package behavior

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

// ewma is an exponentially damped mean and variance (West's update) of
// log1p of a per-window count.
type ewma struct {
	mean, vr float64
	n        uint32 // windows seen
}

func (w *ewma) update(x, alpha float64) {
	if w.n == 0 {
		w.mean, w.vr, w.n = x, 0, 1
		return
	}
	d := x - w.mean
	incr := alpha * d
	w.mean += incr
	w.vr = (1 - alpha) * (w.vr + d*incr)
	w.n++
}

// z is the standardised distance of x above the mean, with the standard
// deviation floored at minSD.
func (w *ewma) z(x, minSD float64) float64 {
	return (x - w.mean) / math.Max(math.Sqrt(w.vr), minSD)
}

// topFlows is the number of largest flows a source's window keeps, so that
// a volume finding names the flows that made the volume.
const topFlows = 3

type topFlow struct {
	uid   string
	bytes uint64
}

// noteTop keeps r among the window's largest flows when it is one. A uid
// is copied only when its flow enters the top, a few times a window.
func (h *host) noteTop(r *flow.Record) {
	if r.UID == "" || r.OrigBytes == 0 {
		return
	}
	low := 0
	for i := 1; i < topFlows; i++ {
		if h.top[i].bytes < h.top[low].bytes {
			low = i
		}
	}
	if r.OrigBytes > h.top[low].bytes {
		h.top[low] = topFlow{strings.Clone(r.UID), r.OrigBytes}
	}
}

// volumeUIDs returns the uids of the window's largest flows that carry at
// least a tenth of its bytes each, largest first.
func (h *host) volumeUIDs() []string {
	top := h.top
	slices.SortFunc(top[:], func(a, b topFlow) int { return cmp.Compare(b.bytes, a.bytes) })
	var uids []string
	for _, t := range top {
		if t.uid != "" && t.bytes*10 >= h.bytes {
			uids = append(uids, t.uid)
		}
	}
	return uids
}

// Baseline metrics, in the order of host.base.
var baselineMetrics = [3]struct {
	detector, what string
}{
	{FanOut, "distinct destinations"},
	{Volume, "bytes sent"},
	{NewDestinations, "new destinations"},
}

// judgeBaseline compares the closing window's fan-out, bytes out and new
// destinations with the source's own damped baseline and then updates the
// baseline with each value that did not stand out, so an attack does not
// teach the baseline. The p-value is the normal upper tail of the z-score
// on the log1p scale: approximate, since per-host counts are only roughly
// log-normal, and meant to be recalibrated by the model's reservoir.
func (e *Engine) judgeBaseline(h *host, start, end time.Time, fanOut int) {
	c := &e.cfg
	vals := [3]float64{float64(fanOut), float64(h.bytes), float64(h.newDst)}
	floors := [3]float64{float64(c.FanOutMin), float64(c.VolumeMinBytes), float64(c.NewDestMin)}
	for i, v := range vals {
		b := &h.base[i]
		x := math.Log1p(v)
		if b.n >= uint32(c.BaselineMinWindows) && v >= floors[i] {
			if z := b.z(x, c.BaselineMinSD); z >= c.BaselineZ {
				m := baselineMetrics[i]
				typical := math.Expm1(b.mean)
				var uids []string
				if m.detector == Volume {
					// the flows that made the volume carry its evidence
					uids = h.volumeUIDs()
				}
				e.emit(detect.Finding{
					UIDs:     uids,
					Detector: m.detector,
					Host:     h.addr.String(),
					Start:    start,
					End:      end,
					PValue:   normalTail(z),
					Summary: fmt.Sprintf("%s: %.0f %s in %s, typical %.0f",
						h.addr, v, m.what, fmtDur(c.ScanWindow), typical),
					Evidence: map[string]any{
						"value":     v,
						"typical":   round3(typical),
						"z":         round3(z),
						"windows":   int(b.n),
						"window_s":  c.ScanWindow.Seconds(),
						"log_mean":  round3(b.mean),
						"log_sd":    round3(math.Sqrt(b.vr)),
						"min_value": floors[i],
					},
				})
				continue
			}
		}
		b.update(x, c.BaselineAlpha)
	}
}
