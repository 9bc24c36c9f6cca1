//go:build libpcap && cgo

package capture

import (
	"errors"
	"fmt"
	"sync"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
)

// pcapHandle reads an interface through libpcap: the engine where
// AF_PACKET is missing. Built only with the libpcap tag.
type pcapHandle struct {
	h  *pcap.Handle
	lt layers.LinkType

	mu     sync.Mutex
	last   [2]uint64
	closed bool
}

// libpcapBuilt says whether this build has the libpcap engine.
const libpcapBuilt = true

func openLibpcap(cfg Config, name string) (handle, error) {
	in, err := pcap.NewInactiveHandle(name)
	if err != nil {
		return nil, err
	}
	defer in.CleanUp()
	for _, set := range []error{
		in.SetSnapLen(cfg.Snaplen),
		in.SetPromisc(cfg.Promiscuous),
		in.SetTimeout(pollTimeout),
		in.SetBufferSize(cfg.RingBytes),
		in.SetImmediateMode(false),
	} {
		if set != nil {
			return nil, set
		}
	}
	h, err := in.Activate()
	if err != nil {
		return nil, err
	}
	if cfg.Filter != "" {
		if err := h.SetBPFFilter(cfg.Filter); err != nil {
			h.Close()
			return nil, fmt.Errorf("filter %q: %w", cfg.Filter, err)
		}
	}
	return &pcapHandle{h: h, lt: h.LinkType()}, nil
}

func (p *pcapHandle) ReadFrame() ([]byte, int64, int, error) {
	data, ci, err := p.h.ZeroCopyReadPacketData()
	if err != nil {
		if errors.Is(err, pcap.NextErrorTimeoutExpired) {
			return nil, 0, 0, errIdle
		}
		return nil, 0, 0, err
	}
	return data, ci.Timestamp.UnixNano(), ci.Length, nil
}

func (p *pcapHandle) LinkType() layers.LinkType { return p.lt }

func (p *pcapHandle) Counters() (received, ringDrops, freezes uint64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		st, err := p.h.Stats()
		if err != nil {
			return p.last[0], p.last[1], 0, err
		}
		p.last = [2]uint64{uint64(st.PacketsReceived), uint64(st.PacketsDropped)}
	}
	return p.last[0], p.last[1], 0, nil
}

func (p *pcapHandle) Close() {
	_, _, _, _ = p.Counters()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		p.h.Close()
	}
}
