package capture

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mlads/mlads/internal/pcap"
)

// Stats counts what a Capture saw, per interface. Where a packet can be
// lost, it says how many were:
//
//   - KernelDrops: dropped by the kernel before any socket saw them (the
//     interface's rx_dropped since the capture opened: a full backlog, a
//     driver out of buffers). Frames of a protocol the host does not
//     handle (LLDP, say) raise rx_dropped only while no packet socket
//     listens: the capture's sockets take them, so they are not counted
//     (checked on a veth: ten frames of ethertype 0x88b5 raised rx_dropped
//     by ten with no socket open, and by none with one open);
//   - RingDrops: dropped because a socket's ring was full (the reader fell
//     behind), with RingFreezes the times a ring was frozen for lack of
//     room;
//   - Decode errors and Evicted: packets the decoder dropped, flows the
//     full table reported early.
type Stats struct {
	Interfaces []InterfaceStats
}

// InterfaceStats is one interface's counters, summed over its sockets.
type InterfaceStats struct {
	Name        string
	Engine      string // afpacket or pcap
	Sockets     int
	Received    uint64 // frames that reached the sockets, RingDrops included (the kernel's tp_packets)
	RingDrops   uint64
	RingFreezes uint64
	KernelDrops uint64
	Frames      uint64 // frames decoded (held checksum samples not yet)
	Packets     uint64 // IP packets decoded
	DecodeErrs  uint64 // packets the decoder dropped (pcap.DecodeStats.ErrorCount)
	Flows       uint64 // flows emitted
	Active      int    // flows held now
	Evicted     uint64
	// Checksums is what auto checksum mode decided on the first socket
	// that decided (each socket decides on its own sample).
	Checksums pcap.ChecksumDecision
	// Decode is the decoder's counters by kind, summed over sockets.
	Decode pcap.DecodeStats
}

// Total sums the interfaces.
func (s Stats) Total() InterfaceStats {
	t := InterfaceStats{Name: "all"}
	for _, i := range s.Interfaces {
		t.Sockets += i.Sockets
		t.Received += i.Received
		t.RingDrops += i.RingDrops
		t.RingFreezes += i.RingFreezes
		t.KernelDrops += i.KernelDrops
		t.Frames += i.Frames
		t.Packets += i.Packets
		t.DecodeErrs += i.DecodeErrs
		t.Flows += i.Flows
		t.Active += i.Active
		t.Evicted += i.Evicted
		t.Decode.Add(i.Decode)
	}
	return t
}

// Stats returns the counters so far. It is safe to call while Run runs
// (the decoder and table counters are snapshots taken every few thousand
// frames and whenever the interface is quiet) and after it returned.
func (c *Capture) Stats() Stats {
	var s Stats
	byName := map[string]int{}
	for _, ifc := range c.ifaces {
		byName[ifc.name] = len(s.Interfaces)
		st := InterfaceStats{Name: ifc.name, Engine: ifc.engine}
		if d := rxDropped(ifc.name); d > ifc.rxDropped0 {
			st.KernelDrops = d - ifc.rxDropped0
		}
		s.Interfaces = append(s.Interfaces, st)
	}
	for _, w := range c.all {
		st := &s.Interfaces[byName[w.ifc.name]]
		st.Sockets++
		if rx, drops, freezes, err := w.h.Counters(); err == nil {
			st.Received += rx
			st.RingDrops += drops
			st.RingFreezes += freezes
		}
		w.mu.Lock()
		m := w.snap
		w.mu.Unlock()
		st.Frames += m.Decode.Frames
		st.Packets += m.Decode.Packets
		st.DecodeErrs += m.Decode.ErrorCount()
		st.Decode.Add(m.Decode)
		st.Flows += m.Table.Flows
		st.Active += m.Table.Active
		st.Evicted += m.Table.Evicted
		if m.Checksums.Decided && !st.Checksums.Decided {
			st.Checksums = m.Checksums
		}
	}
	return s
}

// rxDropped reads an interface's rx_dropped counter (0 when unknown).
func rxDropped(name string) uint64 {
	b, err := os.ReadFile(filepath.Join("/sys/class/net", name, "statistics", "rx_dropped"))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}
