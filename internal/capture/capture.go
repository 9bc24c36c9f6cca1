// Package capture reads live network interfaces and turns their packets into
// flows, through the same decoder and flow table (internal/pcap) as a capture
// file: a flow seen live is the flow the same packets give when written to a
// file and read with `mlads flows`.
//
// On Linux it reads AF_PACKET sockets with a TPACKET_V3 ring (gopacket's
// afpacket, pure Go), several per interface when Config.Fanout asks for it
// (the kernel spreads flows over them by a hash of both addresses, so each
// socket sees whole connections and runs a flow table of its own). Where
// AF_PACKET is missing, a build with the libpcap tag reads through libpcap
// instead (cgo and libpcap headers needed; see README). BPF filters are
// compiled by libpcap loaded at run time (bpf.go), so tcpdump's filter
// language works without cgo.
//
// Every socket runs on a goroutine of its own: like pcap.ReadFiles with
// shards, this is parallelism inside one stage, invisible to the caller.
// With Config.CPUs, each of those goroutines is locked to a thread pinned to
// one CPU (internal/affinity), so that the scheduler cannot put two readers
// on one core while another is idle.
// Run calls emit from one goroutine at a time, and flushes every open flow
// before it returns.
//
// Drops are counted where they happen: by the kernel before the socket (the
// interface's rx_dropped), in the ring when the reader falls behind (the
// socket's tp_drops and queue freezes), and in the decoder and flow table
// (their own counters). Stats reports them all.
package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/mlads/mlads/internal/affinity"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/pcap"
)

// Engines a Config can ask for.
const (
	EngineAuto     = "auto"     // AF_PACKET where there is one, else libpcap
	EngineAFPacket = "afpacket" // Linux AF_PACKET, TPACKET_V3 ring
	EngineLibpcap  = "pcap"     // libpcap (builds with the libpcap tag)
)

// Config says what to capture and how.
type Config struct {
	Interfaces  []string      // interface names, at least one
	Filter      string        // BPF filter in tcpdump's language; empty: everything
	Snaplen     int           // bytes kept of each frame
	Promiscuous bool          // also frames not addressed to the interface
	Fanout      int           // sockets per interface sharing its traffic (AF_PACKET fanout); 1: one
	CPUs        []int         // socket i (over all interfaces, in order) reads on CPUs[i%len(CPUs)] only; empty: unpinned
	RingBytes   int           // ring size per socket
	Engine      string        // EngineAuto, EngineAFPacket or EngineLibpcap
	Idle        time.Duration // a quiet interface moves the flow clock on after this
	Meter       pcap.Config   // decoder and flow table (Shards ignored)
	Log         *slog.Logger  // nil: discard
}

// DefaultConfig returns the defaults for the given interfaces: the full
// frame (snaplen 262144, as tcpdump), promiscuous, one socket per
// interface, a 64 MiB ring, and Zeek's flow table.
func DefaultConfig(ifaces ...string) Config {
	return Config{
		Interfaces:  ifaces,
		Snaplen:     262144,
		Promiscuous: true,
		Fanout:      1,
		RingBytes:   64 << 20,
		Engine:      EngineAuto,
		Idle:        time.Second,
		Meter:       pcap.DefaultConfig(),
	}
}

// Limits of Config values.
const (
	MinSnaplen  = 64
	MaxSnaplen  = 262144
	MaxFanout   = 64
	minRing     = 1 << 20
	pollTimeout = 100 * time.Millisecond
	// sampleWait bounds how long auto checksum mode holds frames while a
	// trickle of traffic never fills its sample nor lets the interface go
	// quiet for Idle.
	sampleWait = 5 * time.Second
	// statsEvery is how many frames pass between snapshots of a socket's
	// decoder and table counters for Stats.
	statsEvery = 4096
	// drainFor bounds how long a stopping capture goes on reading what the
	// kernel had already put in the ring.
	drainFor = 2 * time.Second
)

// errIdle is a handle's "no frame within the poll timeout".
var errIdle = errors.New("no frame")

// handle is one capturing socket.
type handle interface {
	// ReadFrame returns the next frame; data is valid until the next call.
	// It returns errIdle when none came within the poll timeout.
	ReadFrame() (data []byte, ts int64, wireLen int, err error)
	LinkType() layers.LinkType
	// Counters returns the socket's totals so far: frames the kernel
	// delivered to it, frames dropped because its ring was full, and times
	// the ring was frozen for lack of room (0 where not known).
	Counters() (received, ringDrops, freezes uint64, err error)
	Close()
}

// Validate checks a Config before any socket is opened.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Interfaces) == 0 {
		errs = append(errs, errors.New("no interface given"))
	}
	seen := map[string]bool{}
	for _, n := range c.Interfaces {
		if seen[n] {
			errs = append(errs, fmt.Errorf("interface %q given twice", n))
		}
		seen[n] = true
	}
	if c.Snaplen < MinSnaplen || c.Snaplen > MaxSnaplen {
		errs = append(errs, fmt.Errorf("snaplen %d must be in [%d, %d]", c.Snaplen, MinSnaplen, MaxSnaplen))
	}
	if c.Fanout < 1 || c.Fanout > MaxFanout {
		errs = append(errs, fmt.Errorf("fanout %d must be in [1, %d]", c.Fanout, MaxFanout))
	}
	if err := affinity.Check(c.CPUs); err != nil {
		errs = append(errs, fmt.Errorf("cpus %v: %w", c.CPUs, err))
	}
	if c.RingBytes < minRing {
		errs = append(errs, fmt.Errorf("ring size %d must be at least %d bytes", c.RingBytes, minRing))
	}
	switch c.Engine {
	case EngineAuto, EngineAFPacket, EngineLibpcap:
	default:
		errs = append(errs, fmt.Errorf("engine %q is not one of auto, afpacket, pcap", c.Engine))
	}
	if c.Idle <= 0 {
		errs = append(errs, fmt.Errorf("idle %s must be positive", c.Idle))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	return nil
}

// Capture reads the configured interfaces. Build it with Open and run it
// once with Run.
type Capture struct {
	cfg     Config
	log     *slog.Logger
	workers []*worker // open sockets; Close empties it
	ifaces  []*iface
	all     []*worker // every socket opened, for Stats; set by Open only

	emitMu     sync.Mutex // one emit at a time, across sockets
	emitFailed atomic.Bool
	tapMu      sync.Mutex
	tap        *pcapgo.Writer
}

// iface is one interface's state shared by its sockets.
type iface struct {
	name         string
	engine       string
	rxDropped0   uint64 // the interface's rx_dropped when the capture opened
	checksumSaid atomic.Bool
}

// worker is one socket and the flow table its packets go to.
type worker struct {
	c     *Capture
	ifc   *iface
	h     handle
	lt    layers.LinkType
	meter *pcap.Meter
	send  func(*flow.Record) error // Run's serialised emit

	mu   sync.Mutex // guards snap
	snap pcap.MeterStats
}

// Open validates cfg and opens every socket, so that a missing interface
// or capability is an error before anything runs. Close the Capture, or
// Run it (which closes it).
func Open(cfg Config) (*Capture, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Capture{cfg: cfg, log: cfg.Log}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	tc := cfg.Meter
	tc.Table.Source = flow.SourceLive
	for ii, name := range cfg.Interfaces {
		ifc := &iface{name: name, rxDropped0: rxDropped(name)}
		c.ifaces = append(c.ifaces, ifc)
		hs, engine, err := openInterface(cfg, name, ii)
		if err != nil {
			c.Close()
			return nil, err
		}
		ifc.engine = engine
		for _, h := range hs {
			w := &worker{c: c, ifc: ifc, h: h, lt: h.LinkType()}
			w.meter = pcap.NewMeter(tc, w.emit)
			c.workers = append(c.workers, w)
			c.all = append(c.all, w)
		}
	}
	return c, nil
}

// openInterface opens the sockets of one interface with the engine asked
// for (auto: AF_PACKET, then libpcap).
func openInterface(cfg Config, name string, index int) ([]handle, string, error) {
	engine := cfg.Engine
	if engine == EngineAuto {
		engine = EngineAFPacket
		if !afpacketAvailable {
			engine = EngineLibpcap
		}
	}
	var hs []handle
	var err error
	switch engine {
	case EngineAFPacket:
		hs, err = openAFPacket(cfg, name, index)
	default:
		if cfg.Fanout > 1 {
			return nil, engine, fmt.Errorf("capture: %s: fanout needs AF_PACKET; libpcap reads one socket", name)
		}
		var h handle
		h, err = openLibpcap(cfg, name)
		hs = []handle{h}
	}
	if err != nil {
		return nil, engine, fmt.Errorf("capture: %s (%s): %w", name, engine, err)
	}
	return hs, engine, nil
}

// LinkType returns the link type of the frames, or an error when the
// interfaces have different ones (a pcap file holds one).
func (c *Capture) LinkType() (layers.LinkType, error) {
	lt := c.workers[0].lt
	for _, w := range c.workers[1:] {
		if w.lt != lt {
			return 0, fmt.Errorf("capture: %s has link type %s but %s has %s; a pcap file holds one",
				c.workers[0].ifc.name, lt, w.ifc.name, w.lt)
		}
	}
	return lt, nil
}

// WritePackets makes Run also write every frame captured to w as a pcap
// file (written from several goroutines in turn, never at once). Call it
// before Run.
func (c *Capture) WritePackets(w io.Writer) error {
	lt, err := c.LinkType()
	if err != nil {
		return err
	}
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(uint32(c.cfg.Snaplen), lt); err != nil {
		return fmt.Errorf("capture: writing the pcap header: %w", err)
	}
	c.tap = pw
	return nil
}

// Close closes every socket. Run closes them itself; Close is for a
// Capture that is not run.
func (c *Capture) Close() {
	for _, w := range c.workers {
		w.h.Close()
	}
	c.workers = nil
}

// Run captures until ctx ends, handing every finished flow to emit (one
// call at a time; the record is reused). When ctx ends it still meters the
// frames already in the rings (until one poll finds none, at most
// drainFor), flushes every open flow to emit, closes the sockets and
// returns nil. A socket error or an emit error
// stops every socket and is returned, after the flush (except an emit
// error, after which emit is not called again).
func (c *Capture) Run(ctx context.Context, emit func(*flow.Record) error) error {
	defer c.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	send := func(r *flow.Record) error {
		if c.emitFailed.Load() {
			return errEmitStopped
		}
		c.emitMu.Lock()
		defer c.emitMu.Unlock()
		if err := emit(r); err != nil {
			c.emitFailed.Store(true)
			cancel()
			return err
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(c.workers))
	for i, w := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.pinned(i, func() error { return w.run(ctx, send) })
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	var out []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, errEmitStopped) {
			out = append(out, err)
		}
	}
	return errors.Join(out...)
}

// pinned runs socket i's reader, on its CPU when Config.CPUs lists some.
// It must be called on the reader's own goroutine: the goroutine is locked
// to its thread while run runs.
func (c *Capture) pinned(i int, run func() error) error {
	if len(c.cfg.CPUs) == 0 {
		return run()
	}
	cpu := c.cfg.CPUs[i%len(c.cfg.CPUs)]
	undo, err := affinity.Pin(cpu)
	if err != nil {
		return fmt.Errorf("capture: %s, socket %d: %w", c.workers[i].ifc.name, i, err)
	}
	defer undo()
	return run()
}

// errEmitStopped is what the other sockets' tables see once emit failed.
var errEmitStopped = errors.New("capture: stopped after an emit error")

// emit is the meter's emit: Run's serialised one.
func (w *worker) emit(r *flow.Record) error { return w.send(r) }

// run reads the socket until ctx ends or something fails, then flushes
// (unless emit failed: nothing more can be written).
func (w *worker) run(ctx context.Context, send func(*flow.Record) error) error {
	w.send = send
	err := w.read(ctx)
	if !errors.Is(err, errEmitStopped) && !w.c.emitFailed.Load() {
		if ferr := w.meter.Flush(); ferr != nil && err == nil {
			err = ferr
		}
	}
	w.publish()
	w.sayChecksums()
	return err
}

// read is the capture loop of one socket.
func (w *worker) read(ctx context.Context) error {
	var frames uint64
	lastFrame := time.Now()
	sampleStart := time.Time{}
	var drainUntil time.Time // set when ctx ends: the ring is drained first
	for {
		if drainUntil.IsZero() && ctx.Err() != nil {
			drainUntil = time.Now().Add(drainFor)
		}
		if !drainUntil.IsZero() && time.Now().After(drainUntil) {
			return nil
		}
		data, ts, wire, err := w.h.ReadFrame()
		if errors.Is(err, errIdle) {
			if !drainUntil.IsZero() {
				return nil // the ring is empty
			}
			now := time.Now()
			if now.Sub(lastFrame) >= w.c.cfg.Idle {
				// A quiet interface decides on the sample it has, but
				// only once the sample holds a checksummed packet: ARP
				// before a quiet spell says nothing about offloading.
				if w.meter.Sampled() > 0 {
					if err := w.meter.DecideChecksums(); err != nil {
						return err
					}
					w.sayChecksums()
				}
				// Frames wait in the ring up to its block timeout: leave
				// them a margin before the clock passes their time.
				if err := w.meter.Advance(now.Add(-w.c.cfg.Idle).UnixNano()); err != nil {
					return err
				}
				w.publish()
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("capture: %s: %w", w.ifc.name, err)
		}
		frames++
		lastFrame = time.Now()
		if w.c.tap != nil {
			if err := w.c.writeFrame(ts, data, wire); err != nil {
				return err
			}
		}
		if err := w.meter.Frame(ts, w.lt, data, wire); err != nil {
			return err
		}
		if w.meter.Sampling() {
			if sampleStart.IsZero() {
				sampleStart = lastFrame
			} else if lastFrame.Sub(sampleStart) > sampleWait && w.meter.Sampled() > 0 {
				if err := w.meter.DecideChecksums(); err != nil {
					return err
				}
			}
		}
		if frames%statsEvery == 0 {
			w.publish()
			w.sayChecksums()
		}
	}
}

// writeFrame writes one frame to the --write file.
func (c *Capture) writeFrame(ts int64, data []byte, wire int) error {
	c.tapMu.Lock()
	defer c.tapMu.Unlock()
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, ts), CaptureLength: len(data), Length: max(wire, len(data))}
	if err := c.tap.WritePacket(ci, data); err != nil {
		return fmt.Errorf("capture: writing packets: %w", err)
	}
	return nil
}

// sayChecksums logs, once per interface, that auto mode switched
// checksum verification off.
func (w *worker) sayChecksums() {
	d := w.meter.Stats().Checksums
	if d.Off && w.ifc.checksumSaid.CompareAndSwap(false, true) {
		w.c.log.Info("checksums not verified any more", "interface", w.ifc.name, "decision", d.String(),
			"sampled", d.Sampled, "failed", d.Failed)
	}
}

// publish snapshots the meter's counters for Stats.
func (w *worker) publish() {
	st := w.meter.Stats()
	w.mu.Lock()
	w.snap = st
	w.mu.Unlock()
}
