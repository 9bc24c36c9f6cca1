package pcap

import (
	"fmt"

	"github.com/gopacket/gopacket/layers"

	"github.com/mlads/mlads/internal/flow"
)

// Meter turns frames handed to it one at a time, as a live interface
// delivers them, into flows: the same decoder and flow table as a capture
// file goes through, with the clock advanced by the frames' timestamps and,
// while the interface is quiet, by Advance. A Meter is not safe for
// concurrent use: a capture runs one per socket.
type Meter struct {
	dec   decoder
	auto  *checksumAuto
	sum   ChecksumDecision
	tab   *Table
	fm    frameMeter
	pkts  []Packet
	frame uint64
}

// MeterStats is what a Meter counted.
type MeterStats struct {
	Decode    DecodeStats
	Table     TableStats
	Checksums ChecksumDecision
	Held      int // frames held in the checksum sample, not metered yet
}

// NewMeter returns a Meter that hands finished flows to emit (the record is
// reused: valid only during the call). cfg.Shards is ignored; the records'
// source is cfg.Table.Source.
func NewMeter(cfg Config, emit func(*flow.Record) error) *Meter {
	opt := DefaultOptions()
	opt.VerifyChecksums = cfg.VerifyChecksums
	tc := cfg.Table
	tc.VerifyChecksums = cfg.VerifyChecksums || cfg.AutoChecksums
	m := &Meter{tab: NewTable(tc, emit), pkts: make([]Packet, 0, maxFramePackets)}
	m.dec.init(opt)
	if cfg.AutoChecksums {
		m.auto = newChecksumAuto(opt)
	}
	return m
}

// Frame meters one frame: ts is its capture time (nanoseconds since the
// epoch), data the bytes captured, wireLen its length on the wire. data is
// not kept after the call (the checksum sample copies it). An error is
// emit's, and stops the Meter.
func (m *Meter) Frame(ts int64, lt layers.LinkType, data []byte, wireLen int) error {
	m.frame++
	if m.auto != nil {
		if m.auto.hold(m.frame, ts, lt, data, wireLen) {
			return m.DecideChecksums()
		}
		return m.tab.Err()
	}
	m.pkts = m.dec.decodeFrame(m.pkts[:0], m.frame, ts, lt, data, wireLen)
	return m.fm.meter(m.tab, m.pkts)
}

// DecideChecksums ends the checksum sample of auto mode now, on what it
// holds, and meters the held frames. Frame calls it when the sample is
// complete; a live capture calls it too when the interface has been quiet
// for a while, so a trickle of packets is not held back for long.
func (m *Meter) DecideChecksums() error {
	if m.auto == nil {
		return m.tab.Err()
	}
	m.auto.decide(&m.dec)
	for {
		var ok bool
		m.pkts, _, ok = m.auto.next(&m.dec, m.pkts)
		if !ok {
			break
		}
		if err := m.fm.meter(m.tab, m.pkts); err != nil {
			return err
		}
	}
	m.sum, m.auto = m.auto.res, nil
	return m.tab.Err()
}

// Sampling reports whether auto mode still holds frames undecided.
func (m *Meter) Sampling() bool { return m.auto != nil }

// Sampled returns how many checksummed packets the undecided sample holds
// (0 when decided or not in auto mode).
func (m *Meter) Sampled() uint64 {
	if m.auto == nil {
		return 0
	}
	return m.auto.res.Sampled
}

// Advance moves the clock to now (nanoseconds since the epoch) without a
// frame, ending the flows whose timeouts passed: the timer of a quiet
// interface. Time never moves back.
func (m *Meter) Advance(now int64) error {
	if err := m.tab.Advance(now); err != nil {
		return fmt.Errorf("pcap: writing flows: %w", err)
	}
	return nil
}

// Flush decides the checksum sample if it is still open and emits every
// flow still held: the end of a capture.
func (m *Meter) Flush() error {
	if err := m.DecideChecksums(); err != nil {
		return err
	}
	return m.tab.Flush()
}

// Stats returns the Meter's counters so far. The Examples slice is a copy.
func (m *Meter) Stats() MeterStats {
	st := MeterStats{Decode: m.dec.stats, Table: m.tab.Stats(), Checksums: m.sum}
	st.Decode.Examples = append([]DecodeError(nil), st.Decode.Examples...)
	st.Decode.Frag = m.dec.frag.stats
	if m.auto != nil {
		st.Checksums = m.auto.res
		st.Held = len(m.auto.held)
	}
	return st
}
