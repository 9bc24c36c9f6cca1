package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlads/mlads/internal/capture"
	"github.com/mlads/mlads/internal/config"
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
		metrics.NewFunc("mlads_capture_packets_total", "Frames the kernel delivered to the capture sockets.", counter, iface,
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
