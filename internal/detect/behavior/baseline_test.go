package behavior

import (
	"fmt"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

// A device that sends a few hundred bytes every few minutes, then one
// 75 MB flow (an IoT flood, finding 3 of issue 12): the volume finding
// names that flow, and the flow's verdict takes the finding's p-value,
// while the device's ordinary flows in the same window only list it.
func TestVolumeNamesTheFlowsThatMadeIt(t *testing.T) {
	const dev = "192.168.1.50"
	var rs []flow.Record
	for i := range 24 * 12 { // a day, one small flow each 5 minutes
		r := fl(time.Duration(i)*5*time.Minute, dev, "198.51.100.7", 443, flow.ProtoTCP, "SF")
		r.OrigBytes = 236
		rs = append(rs, r)
	}
	at := 24*time.Hour + 30*time.Second
	small := fl(at, dev, "198.51.100.7", 443, flow.ProtoTCP, "SF")
	small.UID, small.OrigBytes = "Csmall", 236
	flood := fl(at+time.Second, dev, "203.0.113.80", 80, flow.ProtoUDP, "S0")
	flood.UID, flood.OrigBytes, flood.OrigPkts = "Cflood", 75<<20, 50000
	rs = append(rs, small, flood, fl(at+10*time.Minute, dev, "198.51.100.7", 443, flow.ProtoTCP, "SF"))
	fs, _ := run(t, DefaultConfig(), rs)
	vol := findings(fs, Volume, dev)
	if len(vol) != 1 {
		t.Fatalf("want one volume finding:%s", describe(fs))
	}
	if fmt.Sprint(vol[0].UIDs) != "[Cflood]" {
		t.Errorf("volume names %v, want the flood flow only", vol[0].UIDs)
	}

	ev := NewEvidence()
	ev.SetFloors(1e-3, nil)
	ev.Add(fs...)
	for _, tc := range []struct {
		r       *flow.Record
		carries bool
	}{{&flood, true}, {&small, false}} {
		v := detect.Verdict{PValue: 0.5, Score: 0.3}
		ev.Attach(tc.r, &v)
		if len(v.Behaviors) == 0 {
			t.Errorf("%s: the volume finding is not listed", tc.r.UID)
		}
		if carries := v.PValue < 0.5; carries != tc.carries {
			t.Errorf("%s: p %.3g after Attach; carries the finding's evidence %v, want %v", tc.r.UID, v.PValue, carries, tc.carries)
		}
	}
}
