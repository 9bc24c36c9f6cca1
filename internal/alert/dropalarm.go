package alert

import (
	"context"
	"fmt"
	"time"
)

// Dropper is a sink that may lose documents by its own configured policy:
// the Elasticsearch spool, full, under drop_oldest or drop_newest.
// Dropped counts the documents lost so far.
type Dropper interface {
	Dropped() uint64
}

// DropAlarmEvery is the least time between two health alerts of one
// DropAlarm: a spool that stays full for hours raises one alert a
// quarter of an hour with the count since the last, not one a flush.
const DropAlarmEvery = 15 * time.Minute

// DropAlarm raises a health alert when a sink lost documents, or a
// captured interface lost frames. It passes everything to its Sink; after
// each Flush it looks at the Droppers it watches, and when one has dropped
// since its last alert (and DropAlarmEvery has passed), it writes a health
// alert to its Sink, which holds every output: so the contacts and the
// JSON lines hear that Elasticsearch lost alerts while it could not be
// reached, or that the sensor did not see all the traffic.
type DropAlarm struct {
	Sink
	watch    []dropWatch
	observer string
	now      func() time.Time
	last     time.Time // when the last alarm was raised
	raised   uint64
}

type dropWatch struct {
	name     string
	d        Dropper
	reported uint64 // dropped count at the last alarm
	capture  bool   // name is a captured interface, not an output
}

// NewDropAlarm returns next with every sink of watch (by name) watched
// for drops. now is the wall clock (nil: time.Now); observer names the
// sensor in the health alerts.
func NewDropAlarm(next Sink, observer string, now func() time.Time, watch map[string]Dropper) *DropAlarm {
	if now == nil {
		now = time.Now
	}
	a := &DropAlarm{Sink: next, observer: observer, now: now}
	for name, d := range watch {
		a.watch = append(a.watch, dropWatch{name: name, d: d, reported: d.Dropped()})
	}
	return a
}

// WatchCapture adds a captured interface to the watch: d counts the frames
// it lost before mlads read them (by the kernel, or in a full ring), from
// the start of the capture, so frames lost before the call are reported
// at the first Flush.
func (a *DropAlarm) WatchCapture(iface string, d Dropper) {
	a.watch = append(a.watch, dropWatch{name: iface, d: d, capture: true})
}

// Flush flushes the sink, then raises what alarms are due and flushes
// them too.
func (a *DropAlarm) Flush(ctx context.Context) (bool, error) {
	if retry, err := a.Sink.Flush(ctx); err != nil {
		return retry, err
	}
	now := a.now()
	if !a.last.IsZero() && now.Sub(a.last) < DropAlarmEvery {
		return false, nil
	}
	var docs []*Alert
	for i := range a.watch {
		w := &a.watch[i]
		n := w.d.Dropped()
		if n <= w.reported {
			continue
		}
		if w.capture {
			docs = append(docs, captureDropAlert(a.observer, w.name, n-w.reported, n, now))
		} else {
			docs = append(docs, dropAlert(a.observer, w.name, n-w.reported, n, now))
		}
		w.reported = n
	}
	if len(docs) == 0 {
		return false, nil
	}
	a.last = now
	a.raised += uint64(len(docs))
	if retry, err := a.Sink.Write(ctx, docs); err != nil {
		return retry, err
	}
	return a.Sink.Flush(ctx)
}

// Raised counts the health alerts raised.
func (a *DropAlarm) Raised() uint64 { return a.raised }

// dropAlert is the health alert for n documents that output lost (total
// since the start).
func dropAlert(observer, output string, n, total uint64, now time.Time) *Alert {
	return healthAlert(observer, "output_dropped", output, now,
		"An output lost alert documents by its configured policy (a full Elasticsearch spool)",
		fmt.Sprintf("mlads on %s lost %d alert documents bound for %s (%d since start): its spool is full and its when_full policy drops; those alerts are not in %s",
			observer, n, output, total, output),
		map[string]any{"output": output, "dropped": n, "dropped_total": total})
}

// captureDropAlert is the health alert for n frames that a captured
// interface lost before mlads read them (total since the capture opened).
func captureDropAlert(observer, iface string, n, total uint64, now time.Time) *Alert {
	return healthAlert(observer, "capture_dropped", iface, now,
		"A captured interface lost frames before mlads read them (kernel or full ring): the sensor did not see all the traffic",
		fmt.Sprintf("mlads on %s lost %d frames captured on %s (%d since the capture opened), dropped by the kernel or in a full ring: the sensor is blind to part of the traffic, and flows and alerts are missing; mlads_capture_drops_total says where",
			observer, n, iface, total),
		map[string]any{"interface": iface, "dropped": n, "dropped_total": total})
}

// healthAlert is a health alert of rule mlads.health.<rule> about what
// (an output, an interface) at now.
func healthAlert(observer, rule, what string, now time.Time, description, summary string, evidence map[string]any) *Alert {
	d := newAlert(observer)
	d.Timestamp, d.Event.Start, d.Event.End = now, now, now
	d.Event.Category = []string{"host"}
	d.Event.Type = []string{"error"}
	d.Rule = Rule{ID: "mlads.health." + rule, Name: rule, Category: "health", Ruleset: "mlads", Description: description}
	m := &d.MLADS
	m.Detector, m.Host = rule, observer
	m.Summary = summary
	m.Evidence = evidence
	d.finish()
	d.Event.ID += "-" + what // two outputs or interfaces may drop in the same second
	// a sensor fault is not a statistical finding: high, whatever the score
	d.Event.Severity, m.Severity = 3, SeverityName(3)
	d.Event.RiskScore = 75
	return d
}
