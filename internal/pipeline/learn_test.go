package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
)

// TestOnlineUpdatesAreGated: once a beacon from an office client to a
// server the baseline knows is a finding held as evidence, none of its
// flows teaches the model (detect.TestLearnGate tests the gate's rules),
// while the other office flows go on teaching. The learned model (for a
// checkpoint) counts more than the trained one, which is left untouched.
func TestOnlineUpdatesAreGated(t *testing.T) {
	var out bytes.Buffer
	o := testOnline(t, &out)
	before := sum(trainedModel(t).KnownCounts)
	ctx := context.Background()
	var beaconAfter, taughtAfter, officeAfter int
	start := time.Date(2026, 3, 4, 8, 0, 0, 0, time.UTC)
	rs := officeFlows(5, start, 60, false)
	for k := range 60 {
		ob, rb := uint64(700), uint64(20000)
		rs = append(rs, flow.Record{TS: start.Add(time.Duration(k)*time.Minute + time.Duration(k%3)*100*time.Millisecond),
			UID: fmt.Sprintf("Cbeacon%03d", k), OrigH: netip.MustParseAddr("10.0.0.15"), OrigP: uint16(41000 + k),
			RespH: netip.MustParseAddr("93.184.216.3"), RespP: 443, Proto: flow.ProtoTCP, IPProto: 6, Service: "ssl",
			Duration: 300 * time.Millisecond, OrigBytes: ob, RespBytes: rb, ConnState: "SF", History: "ShADadFf",
			OrigPkts: 6, OrigIPBytes: ob + 240, RespPkts: 6 + rb/1400, RespIPBytes: rb + 40*(6+rb/1400), Source: flow.SourceZeek})
	}
	slices.SortStableFunc(rs, func(a, b flow.Record) int { return a.TS.Compare(b.TS) })
	for _, r := range rs {
		n := o.Stats().Scorer.OnlineUpdates
		held := slices.ContainsFunc(o.det.ev.Findings(), func(f detect.Finding) bool { return f.Detector == behavior.Beacon })
		if err := o.Flow(ctx, &r); err != nil {
			t.Fatal(err)
		}
		taught := o.Stats().Scorer.OnlineUpdates > n
		switch beacon := strings.HasPrefix(r.UID, "Cbeacon"); {
		case beacon && held:
			beaconAfter++
			if taught {
				taughtAfter++
			}
		case !beacon && held && taught:
			officeAfter++
		}
	}
	if beaconAfter == 0 || taughtAfter != 0 || officeAfter == 0 {
		t.Errorf("of %d beacon flows after the finding, %d taught (want some flows, none taught); office flows taught %d times after (want some)",
			beaconAfter, taughtAfter, officeAfter)
	}
	learned, trained := o.Learned(), trainedModel(t)
	if sum(learned.KnownCounts) <= before || sum(trained.KnownCounts) != before {
		t.Errorf("learned model counts %d sightings, trained %d (was %d); want more, and the trained one unchanged",
			sum(learned.KnownCounts), sum(trained.KnownCounts), before)
	}
	b, err := learned.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := detect.UnmarshalModel(b); err != nil {
		t.Errorf("the learned model does not load: %v", err)
	}
}

func sum(xs []uint32) (n int) {
	for _, x := range xs {
		n += int(x)
	}
	return n
}
