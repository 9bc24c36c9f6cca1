package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlads/mlads/internal/capture"
	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/elastic"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/metrics"
)

// liveQueue is how many finished flows of the daemon's interfaces wait for
// the tailer's goroutine. When it is full the capture waits (counted in
// Stalls), its rings fill, and the kernel counts what it then drops.
const liveQueue = 16384

// liveFlows is the daemon's live capture (run.interfaces): the capture
// runs on goroutines of its own and hands copies of its flows over a
// bounded channel to the tailer's goroutine, which takes them in at every
// Tick and, when the daemon stops, all of them in Drain, before the last
// commit:
//
//	capture.Capture ──flow.Record──▶ chan (liveQueue) ──▶ runSink.Tick / Drain ──▶ runSink.write
//
// The capture's goroutine is the channel's only sender and closes it when
// Run has flushed every open flow.
type liveFlows struct {
	c      *capture.Capture
	ch     chan flow.Record
	done   chan struct{} // closed when the capture's goroutine ended
	err    error         // Run's, read after ch is closed
	stalls atomic.Int64
	drops  dropWatch // for /healthz; the daemon's goroutine only
}

// openLive opens the interfaces (run.interfaces), so that a missing one or
// a missing capability stops the daemon before it starts.
func openLive(cfg config.Config, log *slog.Logger, open func(capture.Config) (*capture.Capture, error)) (*liveFlows, error) {
	if open == nil {
		open = capture.Open
	}
	c, err := open(CaptureConfig(cfg, cfg.Run.Interfaces, log.With("component", "capture")))
	if err != nil {
		return nil, err
	}
	return &liveFlows{c: c, ch: make(chan flow.Record, liveQueue), done: make(chan struct{})}, nil
}

// start captures until ctx ends. A capture that fails while running calls
// fail, which stops the daemon.
func (l *liveFlows) start(ctx context.Context, fail context.CancelCauseFunc) {
	c := l.c
	go func() {
		defer close(l.done)
		defer close(l.ch)
		l.err = c.Run(ctx, func(r *flow.Record) error {
			select {
			case l.ch <- *r:
				return nil
			default:
			}
			l.stalls.Add(1)
			l.ch <- *r // wait: the flow is kept, the rings take the pressure
			return nil
		})
		if l.err != nil {
			fail(fmt.Errorf("capture: %w", l.err))
		}
	}()
}

// stop waits for a capture whose context has ended, dropping the flows not
// taken: only after the daemon failed, when nothing can be written.
func (l *liveFlows) stop() {
	for range l.ch {
	}
	<-l.done
}

// take hands the flows waiting now to write, without waiting for more. It
// reports whether it handed any.
func (l *liveFlows) take(write func(*flow.Record) error) (bool, error) {
	for n := 0; ; n++ {
		select {
		case r, ok := <-l.ch:
			if !ok {
				return n > 0, nil
			}
			if err := write(&r); err != nil {
				return true, err
			}
		default:
			return n > 0, nil
		}
	}
}

// drain hands every flow to write until the capture has stopped and
// flushed its open flows; the daemon's context must have ended.
func (l *liveFlows) drain(write func(*flow.Record) error) error {
	for r := range l.ch {
		if err := write(&r); err != nil {
			// keep the capture from waiting on a full channel
			for range l.ch {
			}
			return err
		}
	}
	return nil
}

// Stats returns the capture's counters, and how often a full queue made
// the capture wait.
func (l *liveFlows) Stats() (capture.Stats, int64) { return l.c.Stats(), l.stalls.Load() }

// interfaceDrops are the interfaces' drop counters for the health alarm
// (WatchDrops): the frames each lost by the kernel or in a full ring since
// the capture opened. None when l is nil.
func (l *liveFlows) interfaceDrops() []InterfaceDrops {
	if l == nil {
		return nil
	}
	var out []InterfaceDrops
	for _, i := range l.c.Stats().Interfaces {
		out = append(out, InterfaceDrops{Name: i.Name, Dropper: ifaceDropper{l.c, i.Name}})
	}
	return out
}

// ifaceDropper reads one interface's kernel and ring drops (alert.Dropper).
type ifaceDropper struct {
	c    *capture.Capture
	name string
}

func (d ifaceDropper) Dropped() uint64 {
	for _, i := range d.c.Stats().Interfaces {
		if i.Name == d.name {
			return i.KernelDrops + i.RingDrops
		}
	}
	return 0
}

// captureHealth is the interfaces' part of a health report.
func captureHealth(cs capture.Stats) []elastic.CaptureHealth {
	out := make([]elastic.CaptureHealth, 0, len(cs.Interfaces))
	for _, i := range cs.Interfaces {
		out = append(out, elastic.CaptureHealth{Interface: i.Name, Packets: i.Received, KernelDrops: i.KernelDrops, RingDrops: i.RingDrops, DecodeErrs: i.DecodeErrs})
	}
	return out
}

// dropHold is how long /healthz goes on saying that a captured interface
// loses frames after its last loss.
const dropHold = time.Minute

// captureLoss is an interface's current episode of lost frames, for
// /healthz: a loss that follows dropHold without any starts a new one.
type captureLoss struct {
	Name         string
	Kernel, Ring uint64    // frames lost in the episode, by where
	Since, Last  time.Time // when its first and its last loss were seen
}

// dropWatch follows the interfaces' drop counters from one look to the
// next (every publishEvery, by the daemon's goroutine only).
type dropWatch struct {
	seen  map[string][2]uint64 // kernel and ring totals at the last look
	lossy map[string]*captureLoss
}

// look takes the counters of cs at now, and returns the interfaces that
// lost frames within dropHold of now.
func (w *dropWatch) look(now time.Time, cs capture.Stats) []captureLoss {
	if w.seen == nil {
		w.seen, w.lossy = map[string][2]uint64{}, map[string]*captureLoss{}
	}
	var out []captureLoss
	for _, i := range cs.Interfaces {
		was := w.seen[i.Name] // zero at the first look: the totals count from the capture's start
		w.seen[i.Name] = [2]uint64{i.KernelDrops, i.RingDrops}
		k, r := i.KernelDrops-min(was[0], i.KernelDrops), i.RingDrops-min(was[1], i.RingDrops)
		e := w.lossy[i.Name]
		if k+r > 0 {
			if e == nil || now.Sub(e.Last) >= dropHold {
				e = &captureLoss{Name: i.Name, Since: now}
				w.lossy[i.Name] = e
			}
			e.Kernel += k
			e.Ring += r
			e.Last = now
		}
		if e != nil && now.Sub(e.Last) < dropHold {
			out = append(out, *e)
		}
	}
	return out
}

// metrics are the capture's families, by interface: frames the kernel
// delivered, packets lost and where (kernel, ring), decode errors, flows,
// and the times the capture waited for the daemon's goroutine.
func (l *liveFlows) metrics() []prometheus.Collector {
	each := func(read func(capture.InterfaceStats, metrics.Emit)) func(metrics.Emit) {
		return func(emit metrics.Emit) {
			for _, i := range l.c.Stats().Interfaces {
				read(i, emit)
			}
		}
	}
	iface := []string{"interface"}
	return []prometheus.Collector{
		metrics.NewFunc("mlads_capture_packets_total", "Frames that reached the capture sockets, those a full ring dropped included.", counter, iface,
			each(func(i capture.InterfaceStats, emit metrics.Emit) { emit(float64(i.Received), i.Name) })),
		metrics.NewFunc("mlads_capture_drops_total", "Frames lost before mlads read them: by the kernel before the socket, or in a full ring.",
			counter, []string{"interface", "where"}, each(func(i capture.InterfaceStats, emit metrics.Emit) {
				emit(float64(i.KernelDrops), i.Name, "kernel")
				emit(float64(i.RingDrops), i.Name, "ring")
			})),
		metrics.NewFunc("mlads_capture_decode_errors_total", "Captured packets the decoder dropped.", counter, iface,
			each(func(i capture.InterfaceStats, emit metrics.Emit) { emit(float64(i.DecodeErrs), i.Name) })),
		metrics.NewFunc("mlads_capture_flows_total", "Flows the capture ended.", counter, iface,
			each(func(i capture.InterfaceStats, emit metrics.Emit) { emit(float64(i.Flows), i.Name) })),
		metrics.NewFunc("mlads_capture_queue_stalls_total", "Times a captured flow waited for room in the queue to the detectors.", counter, nil,
			func(emit metrics.Emit) { emit(float64(l.stalls.Load())) }),
	}
}
