package config

import (
	"fmt"
	"time"

	"github.com/mlads/mlads/internal/affinity"
)

// Capture configures how live interfaces are read, by `mlads capture` and
// by the daemon for run.interfaces.
type Capture struct {
	// Filter is a BPF filter in tcpdump's language; empty takes every frame.
	Filter string `mapstructure:"filter"`
	// Snaplen is how many bytes of each frame are kept.
	Snaplen int `mapstructure:"snaplen"`
	// Promiscuous also captures frames not addressed to the interface.
	Promiscuous bool `mapstructure:"promiscuous"`
	// Fanout is how many sockets (one core each) share an interface's
	// traffic, by a hash of the host pair (AF_PACKET only).
	Fanout int `mapstructure:"fanout"`
	// CPUs pins the sockets' reader threads: socket i (counted over every
	// interface, in order) runs on CPUs[i % len(CPUs)] only. Empty leaves
	// the threads to the scheduler, which may put two readers on one core.
	CPUs []int `mapstructure:"cpus"`
	// RingMB is the size of each socket's ring, in MiB.
	RingMB int `mapstructure:"ring_mb"`
	// Engine is auto (AF_PACKET where there is one, else libpcap),
	// afpacket or pcap.
	Engine string `mapstructure:"engine"`
	// Idle is how long an interface may be quiet before the flow clock is
	// moved on by the wall clock, so that idle flows end.
	Idle time.Duration `mapstructure:"idle"`
}

// Bounds of capture values (they match internal/capture's).
const (
	minSnaplen = 64
	maxSnaplen = 262144
	maxFanout  = 64
)

func defaultCapture() Capture {
	return Capture{Snaplen: maxSnaplen, Promiscuous: true, Fanout: 1, RingMB: 64, Engine: "auto", Idle: time.Second}
}

func (c *Capture) validate() []error {
	var errs []error
	if c.Snaplen < minSnaplen || c.Snaplen > maxSnaplen {
		errs = append(errs, fmt.Errorf("capture.snaplen: %d must be in [%d, %d]", c.Snaplen, minSnaplen, maxSnaplen))
	}
	if c.Fanout < 1 || c.Fanout > maxFanout {
		errs = append(errs, fmt.Errorf("capture.fanout: %d must be in [1, %d]", c.Fanout, maxFanout))
	}
	if err := affinity.Check(c.CPUs); err != nil {
		errs = append(errs, fmt.Errorf("capture.cpus: %v: %w", c.CPUs, err))
	}
	if c.RingMB < 1 || c.RingMB > 4096 {
		errs = append(errs, fmt.Errorf("capture.ring_mb: %d must be in [1, 4096]", c.RingMB))
	}
	switch c.Engine {
	case "auto", "afpacket", "pcap":
	default:
		errs = append(errs, fmt.Errorf("capture.engine: %q is not one of auto, afpacket, pcap", c.Engine))
	}
	if c.Idle <= 0 {
		errs = append(errs, fmt.Errorf("capture.idle: %s must be positive", c.Idle))
	}
	return errs
}
