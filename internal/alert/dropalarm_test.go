package alert

import (
	"context"
	"strings"
	"testing"
	"time"
)

type countDropper uint64

func (c *countDropper) Dropped() uint64 { return uint64(*c) }

func TestDropAlarmRaisesOneHealthAlertPerPeriodWithTheCount(t *testing.T) {
	ctx := context.Background()
	var mem memSink
	drops := countDropper(5) // dropped before the alarm was set up: not its business
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	a := NewDropAlarm(&mem, "sensor-1", func() time.Time { return now }, map[string]Dropper{"elasticsearch": &drops})

	flush := func() {
		t.Helper()
		if _, err := a.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	flush()
	if len(mem.docs) != 0 {
		t.Fatalf("no drops, yet %d alerts", len(mem.docs))
	}
	drops += 7
	flush()
	if len(mem.docs) != 1 {
		t.Fatalf("%d alerts after 7 drops, want 1", len(mem.docs))
	}
	d := mem.docs[0]
	if d.Rule.ID != "mlads.health.output_dropped" || d.MLADS.Severity != "high" || d.Event.Severity != 3 ||
		d.MLADS.Evidence["dropped"] != uint64(7) || d.MLADS.Host != "sensor-1" || d.Event.ID == "" ||
		!strings.Contains(d.Message, "lost 7 alert documents bound for elasticsearch") {
		t.Fatalf("health alert: %+v", d)
	}
	if mem.flushes < 3 {
		t.Errorf("the alarm was not flushed after it was written (%d flushes)", mem.flushes)
	}

	// more drops within DropAlarmEvery wait for the next period, then come
	// as one alert with the count since the last
	drops += 3
	now = now.Add(DropAlarmEvery / 2)
	flush()
	drops += 2
	flush()
	if len(mem.docs) != 1 {
		t.Fatalf("%d alerts within one period, want 1", len(mem.docs))
	}
	now = now.Add(DropAlarmEvery)
	flush()
	if len(mem.docs) != 2 || mem.docs[1].MLADS.Evidence["dropped"] != uint64(5) ||
		mem.docs[1].MLADS.Evidence["dropped_total"] != uint64(17) || mem.docs[1].ID() == d.ID() {
		t.Fatalf("second period: %d alerts, last %+v", len(mem.docs), mem.docs[len(mem.docs)-1].MLADS.Evidence)
	}
	if a.Raised() != 2 {
		t.Errorf("Raised() = %d, want 2", a.Raised())
	}
}

// TestDropAlarmCapture: an interface that lost frames raises a
// capture_dropped health alert naming it, with the frames lost since the
// capture opened (before the watch began too), and one per period after.
func TestDropAlarmCapture(t *testing.T) {
	ctx := context.Background()
	var mem memSink
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	a := NewDropAlarm(&mem, "sensor-1", func() time.Time { return now }, nil)
	eth0, eth1 := countDropper(12), countDropper(0)
	a.WatchCapture("eth0", &eth0)
	a.WatchCapture("eth1", &eth1)
	if _, err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(mem.docs) != 1 {
		t.Fatalf("%d alerts, want 1 (eth0's)", len(mem.docs))
	}
	d := mem.docs[0]
	if d.Rule.ID != "mlads.health.capture_dropped" || d.MLADS.Severity != "high" || d.MLADS.Evidence["interface"] != "eth0" ||
		d.MLADS.Evidence["dropped"] != uint64(12) || !strings.Contains(d.Message, "lost 12 frames captured on eth0") {
		t.Fatalf("health alert: %+v", d)
	}
	eth0 += 3
	eth1 += 4
	now = now.Add(DropAlarmEvery)
	if _, err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(mem.docs) != 3 || mem.docs[1].MLADS.Evidence["dropped_total"] != uint64(15) || mem.docs[2].MLADS.Evidence["interface"] != "eth1" ||
		mem.docs[1].ID() == mem.docs[2].ID() {
		t.Fatalf("second period: %d alerts: %+v", len(mem.docs), mem.docs[1:])
	}
}
