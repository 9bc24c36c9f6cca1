//go:build linux

package capture

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

const afpacketAvailable = true

// afHandle is one AF_PACKET socket with a TPACKET_V3 ring.
type afHandle struct {
	tp *afpacket.TPacket
	lt layers.LinkType

	mu     sync.Mutex // guards last and closed
	last   [3]uint64  // counters read last, kept once the socket is closed
	closed bool
}

// frameSize is the TPACKET_V3 frame size asked for: V3 packs frames of any
// size into blocks, so this only sets the block size's granularity.
const frameSize = 1 << 16

// openAFPacket opens cfg.Fanout sockets on the interface, joined in one
// fanout group (hash of both addresses, with defragmentation, so both
// directions of a connection and all fragments of a datagram reach the same
// socket).
func openAFPacket(cfg Config, name string, index int) ([]handle, error) {
	lt, loopback := linkTypeOf(name)
	prog, err := CompileBPF(cfg.Filter, int(lt), cfg.Snaplen)
	if err != nil {
		return nil, err
	}
	if loopback {
		if prog, err = skipOutgoing(prog); err != nil {
			return nil, err
		}
	}
	// Blocks of 1 MiB (a multiple of the page size and of frameSize).
	const block = 1 << 20
	blocks := max(cfg.RingBytes/block, 1)
	// One group id per interface and process, so two captures of the same
	// interface (two mlads processes) do not share their packets.
	group := uint16(os.Getpid()*31+index) & 0xffff
	var hs []handle
	fail := func(err error) ([]handle, error) {
		for _, h := range hs {
			h.Close()
		}
		return nil, err
	}
	for i := 0; i < cfg.Fanout; i++ {
		tp, err := afpacket.NewTPacket(
			afpacket.OptInterface(name),
			afpacket.TPacketVersion3,
			afpacket.OptFrameSize(frameSize),
			afpacket.OptBlockSize(block),
			afpacket.OptNumBlocks(blocks),
			afpacket.OptPollTimeout(pollTimeout),
			afpacket.OptAddVLANHeader(true),
		)
		if err != nil {
			return fail(afError(err))
		}
		h := &afHandle{tp: tp, lt: lt}
		hs = append(hs, h)
		if err := tp.SetBPF(prog); err != nil {
			return fail(fmt.Errorf("attaching the filter: %w", err))
		}
		if cfg.Fanout > 1 {
			if err := tp.SetFanout(afpacket.FanoutHashWithDefrag, group); err != nil {
				return fail(fmt.Errorf("joining fanout group %d: %w", group, err))
			}
		}
		if cfg.Promiscuous {
			if err := tp.SetPromiscuous(true); err != nil {
				return fail(fmt.Errorf("promiscuous mode: %w", err))
			}
		}
	}
	return hs, nil
}

// afError adds what to do to the usual failures.
func afError(err error) error {
	switch {
	case errors.Is(err, os.ErrPermission):
		// promiscuous mode is a PACKET_MR_PROMISC membership of the
		// socket: CAP_NET_RAW covers it (configs/mlads.service)
		return fmt.Errorf("%w (capture needs CAP_NET_RAW)", err)
	case strings.Contains(err.Error(), "no such device"):
		return fmt.Errorf("%w (no such interface)", err)
	}
	return err
}

// linkTypeOf maps the interface's ARPHRD type to the frames' link type:
// AF_PACKET raw sockets give Ethernet framing on Ethernet and loopback
// interfaces, bare IP on tunnels without a link layer. loopback reports
// ARPHRD_LOOPBACK.
func linkTypeOf(name string) (lt layers.LinkType, loopback bool) {
	b, err := os.ReadFile(filepath.Join("/sys/class/net", name, "type"))
	if err != nil {
		return layers.LinkTypeEthernet, false
	}
	switch n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n {
	case 65534, 778, 512: // ARPHRD_NONE (tun), ARPHRD_IPGRE, ARPHRD_PPP
		return layers.LinkTypeRaw, false
	case 772: // ARPHRD_LOOPBACK
		return layers.LinkTypeEthernet, true
	}
	return layers.LinkTypeEthernet, false
}

// packetOutgoing is PACKET_OUTGOING, the packet type of a frame the host sent.
const packetOutgoing = 4

// skipOutgoing puts in front of prog a test that drops the frames the host
// sends. On loopback every frame is seen twice, going out and coming in;
// libpcap drops the outgoing copy the same way, so each is metered once.
func skipOutgoing(prog []bpf.RawInstruction) ([]bpf.RawInstruction, error) {
	head, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: packetOutgoing, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
	})
	if err != nil {
		return nil, fmt.Errorf("loopback filter: %w", err)
	}
	return append(head, prog...), nil
}

func (h *afHandle) ReadFrame() ([]byte, int64, int, error) {
	data, ci, err := h.tp.ZeroCopyReadPacketData()
	if err != nil {
		if errors.Is(err, afpacket.ErrTimeout) || errors.Is(err, afpacket.ErrPoll) {
			return nil, 0, 0, errIdle
		}
		return nil, 0, 0, err
	}
	return data, ci.Timestamp.UnixNano(), ci.Length, nil
}

func (h *afHandle) LinkType() layers.LinkType { return h.lt }

func (h *afHandle) Counters() (received, ringDrops, freezes uint64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		_, v3, err := h.tp.SocketStats()
		if err != nil {
			return h.last[0], h.last[1], h.last[2], fmt.Errorf("socket statistics: %w", err)
		}
		h.last = [3]uint64{uint64(v3.Packets()), uint64(v3.Drops()), uint64(v3.QueueFreezes())}
	}
	return h.last[0], h.last[1], h.last[2], nil
}

func (h *afHandle) Close() {
	_, _, _, _ = h.Counters() // keep the last counts for Stats
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		h.tp.Close()
	}
}
