//go:build linux

// Command blast sends the frames of a capture on an interface as fast as it
// can, or at a given rate, looping, for bench/capture/run.sh: tcpreplay
// reached only 120–200 k packets/s into a veth on the benchmark machine,
// below what the reader can take. It holds every frame in memory and hands
// them to the kernel in sendmmsg batches on one AF_PACKET socket bound to
// the interface, by default with PACKET_QDISC_BYPASS (straight to the
// driver, no qdisc).
//
//	blast -i veth0 [-pps 500000] [-for 4s] [-batch 256] [-qdisc] [-ready PID] [-drain PID] capture.pcap
//
// -ready PID waits until the reader PID is idle before sending: a large
// ring takes the kernel a second or more to allocate.
//
// It prints one line on standard output:
//
//	blast: sent 4000000 packets in 4.000s: 1000000 pps (send errors 0, skipped 0)
//
// With -drain PID it stops the reader PID while it sends, then continues
// it and times how long the reader takes to read its ring empty (drain.go),
// and prints a second line:
//
//	blast: drained by 12345 in 0.400s of wall time, 0.390s of CPU time
//
// "send errors" are frames the kernel refused (ENOBUFS with the qdisc
// bypassed): they are retried, so "sent" counts only frames it took.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.iface, "i", "", "interface to send on")
	flag.Float64Var(&cfg.pps, "pps", 0, "packets per second (0: as fast as possible)")
	flag.DurationVar(&cfg.duration, "for", 4*time.Second, "how long to send")
	flag.IntVar(&cfg.batch, "batch", 256, "frames per sendmmsg call")
	flag.BoolVar(&cfg.qdisc, "qdisc", false, "go through the interface's qdisc (default: PACKET_QDISC_BYPASS)")
	flag.BoolVar(&cfg.ring, "ring", false, "send through a PACKET_TX_RING instead of sendmmsg")
	flag.IntVar(&cfg.drain, "drain", 0, "PID of the reader: stop it while sending, then time how long it takes to read its ring")
	flag.IntVar(&cfg.ready, "ready", 0, "PID of the reader: wait until it is idle (its ring allocated) before sending")
	flag.Parse()
	if cfg.iface == "" || flag.NArg() != 1 || cfg.batch < 1 || cfg.pps < 0 {
		fmt.Fprintln(os.Stderr, "usage: blast -i IFACE [-pps N] [-for D] [-batch N] [-qdisc] [-ring] [-ready PID] [-drain PID] CAPTURE")
		os.Exit(2)
	}
	cfg.file = flag.Arg(0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	res, err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "blast:", err)
		os.Exit(1)
	}
	fmt.Printf("blast: sent %d packets in %.3fs: %.0f pps (send errors %d, skipped %d)\n",
		res.sent, res.elapsed.Seconds(), float64(res.sent)/res.elapsed.Seconds(), res.errors, res.skipped)
	if cfg.drain > 0 {
		fmt.Printf("blast: drained by %d in %.3fs of wall time, %.3fs of CPU time\n", cfg.drain, res.drained.wall.Seconds(), res.drained.cpu.Seconds())
	}
}

type config struct {
	iface    string
	file     string
	pps      float64
	duration time.Duration
	batch    int
	qdisc    bool
	ring     bool
	drain    int // reader's PID (drain.go); 0: none
	ready    int // reader's PID to wait for; 0: none
}

type result struct {
	sent, errors uint64
	skipped      int
	elapsed      time.Duration
	drained      drainResult // with cfg.drain
}

// mmsghdr is struct mmsghdr of <sys/socket.h>, which x/sys/unix does not
// define.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

func run(ctx context.Context, cfg config) (result, error) {
	frames, skipped, err := load(cfg.file)
	if err != nil {
		return result{}, err
	}
	ifi, err := net.InterfaceByName(cfg.iface)
	if err != nil {
		return result{}, fmt.Errorf("interface %s: %w", cfg.iface, err)
	}
	// Protocol 0: the socket sends only, it receives nothing.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return result{}, fmt.Errorf("AF_PACKET socket: %w", err)
	}
	defer func() { _ = unix.Close(fd) }()
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		return result{}, fmt.Errorf("bind to %s: %w", cfg.iface, err)
	}
	if !cfg.qdisc {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
			return result{}, fmt.Errorf("PACKET_QDISC_BYPASS on %s: %w", cfg.iface, err)
		}
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 64<<20)
	var send sender
	if cfg.ring {
		if send, err = newRingSender(fd, frames); err != nil {
			return result{}, fmt.Errorf("TX ring on %s: %w", cfg.iface, err)
		}
	} else {
		send = newMmsgSender(fd, frames)
	}
	defer send.close()

	if cfg.ready > 0 {
		if err := waitIdle(cfg.ready); err != nil {
			return result{}, err
		}
	}
	if cfg.drain > 0 {
		if err := waitIdle(cfg.drain); err != nil {
			return result{}, err
		}
		if err := unix.Kill(cfg.drain, unix.SIGSTOP); err != nil {
			return result{}, fmt.Errorf("SIGSTOP %d: %w", cfg.drain, err)
		}
		// whatever happens, the reader goes on
		defer func() { _ = unix.Kill(cfg.drain, unix.SIGCONT) }()
	}
	var res result
	res.skipped = skipped
	start := time.Now()
	end := start.Add(cfg.duration)
	for i := 0; ; i++ {
		now := time.Now()
		if i&63 == 0 && (now.After(end) || ctx.Err() != nil) {
			break
		}
		n := cfg.batch
		if cfg.pps > 0 {
			// Send a batch only when the schedule allows it; cap the
			// batch so that the rate stays smooth at low rates.
			due := start.Add(time.Duration(float64(res.sent) / cfg.pps * float64(time.Second)))
			if wait := due.Sub(now); wait > 0 {
				if now.Add(wait).After(end) {
					break
				}
				time.Sleep(wait)
			}
			n = min(n, max(1, int(cfg.pps/10000)))
		}
		sent, err := send.send(n)
		res.sent += uint64(sent)
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				res.errors++
				continue
			}
			return res, fmt.Errorf("send on %s: %w", cfg.iface, err)
		}
	}
	res.elapsed = time.Since(start)
	if cfg.drain > 0 {
		if res.drained, err = drain(cfg.drain); err != nil {
			return res, err
		}
	}
	return res, nil
}

// A sender hands up to n frames to the kernel, the next ones of the
// capture, looping, and says how many it took.
type sender interface {
	send(n int) (int, error)
	close()
}

// mmsgSender sends with sendmmsg.
type mmsgSender struct {
	fd   int
	iov  []unix.Iovec
	msgs []mmsghdr
	next int
}

func newMmsgSender(fd int, frames [][]byte) *mmsgSender {
	// One message per frame, built once: a batch is a window into msgs,
	// wrapping at the end, so the send loop does no work per frame.
	s := &mmsgSender{fd: fd, iov: make([]unix.Iovec, len(frames)), msgs: make([]mmsghdr, len(frames))}
	for i, f := range frames {
		s.iov[i].Base = &f[0]
		s.iov[i].SetLen(len(f))
		s.msgs[i].hdr.Iov = &s.iov[i]
		s.msgs[i].hdr.SetIovlen(1)
	}
	return s
}

func (s *mmsgSender) send(n int) (int, error) {
	n = min(n, len(s.msgs)-s.next)
	r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd),
		uintptr(unsafe.Pointer(&s.msgs[s.next])), uintptr(n), 0, 0, 0)
	if errno != 0 {
		return 0, fmt.Errorf("sendmmsg: %w", errno)
	}
	s.next += int(r)
	if s.next == len(s.msgs) {
		s.next = 0
	}
	return int(r), nil
}

func (s *mmsgSender) close() {}

// ringSender sends through a TPACKET_V2 PACKET_TX_RING: it copies frames
// into free slots, marks them for sending and flushes them with one send
// call per batch.
type ringSender struct {
	fd     int
	mem    []byte
	slots  int
	slot   int // next slot to fill
	frames [][]byte
	next   int // next frame to send
}

const (
	ringSlot   = 2048    // bytes per slot: header (32) + a 1514-byte frame
	ringBlock  = 1 << 16 // bytes per block
	ringBlocks = 64      // 4 MiB, 2048 slots
	ringData   = 32      // TPACKET_ALIGN(sizeof(struct tpacket2_hdr))
)

func newRingSender(fd int, frames [][]byte) (*ringSender, error) {
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
		return nil, fmt.Errorf("PACKET_VERSION: %w", err)
	}
	req := unix.TpacketReq{Block_size: ringBlock, Block_nr: ringBlocks, Frame_size: ringSlot,
		Frame_nr: ringBlock / ringSlot * ringBlocks}
	if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_TX_RING, &req); err != nil {
		return nil, fmt.Errorf("PACKET_TX_RING: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, ringBlock*ringBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	return &ringSender{fd: fd, mem: mem, slots: int(req.Frame_nr), frames: frames}, nil
}

// status is tp_status, the first field of the slot's struct tpacket2_hdr,
// shared with the kernel.
func (s *ringSender) status(slot int) *uint32 {
	return (*uint32)(unsafe.Pointer(&s.mem[slot*ringSlot]))
}

func (s *ringSender) send(n int) (int, error) {
	filled := 0
	for filled < n {
		st := s.status(s.slot)
		if atomic.LoadUint32(st) != unix.TP_STATUS_AVAILABLE {
			break // the kernel still holds it: flush what is filled
		}
		f := s.frames[s.next]
		base := s.slot * ringSlot
		copy(s.mem[base+ringData:], f)
		*(*uint32)(unsafe.Pointer(&s.mem[base+4])) = uint32(len(f)) // tp_len
		atomic.StoreUint32(st, unix.TP_STATUS_SEND_REQUEST)
		filled++
		if s.slot++; s.slot == s.slots {
			s.slot = 0
		}
		if s.next++; s.next == len(s.frames) {
			s.next = 0
		}
	}
	_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(s.fd), 0, 0, 0, 0, 0)
	if errno != 0 {
		return filled, fmt.Errorf("send: %w", errno)
	}
	return filled, nil
}

func (s *ringSender) close() { _ = unix.Munmap(s.mem) }

// load reads every Ethernet frame of a pcap or pcapng file into memory and
// returns how many it skipped (empty, or longer than 1514 bytes, which
// would not pass the interface's MTU).
func load(name string) ([][]byte, int, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = f.Close() }()
	var (
		read func() ([]byte, error)
		lt   layers.LinkType
	)
	if r, err := pcapgo.NewReader(f); err == nil {
		lt = r.LinkType()
		read = func() ([]byte, error) { d, _, err := r.ReadPacketData(); return d, err }
	} else {
		if _, serr := f.Seek(0, io.SeekStart); serr != nil {
			return nil, 0, fmt.Errorf("%s: %w", name, serr)
		}
		ng, nerr := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if nerr != nil {
			return nil, 0, fmt.Errorf("%s: neither pcap (%w) nor pcapng (%w)", name, err, nerr)
		}
		lt = ng.LinkType()
		read = func() ([]byte, error) { d, _, err := ng.ReadPacketData(); return d, err }
	}
	if lt != layers.LinkTypeEthernet {
		return nil, 0, fmt.Errorf("%s: link type %v, want Ethernet", name, lt)
	}
	var frames [][]byte
	skipped := 0
	for n := 1; ; n++ {
		d, err := read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: packet %d: %w", name, n, err)
		}
		if len(d) == 0 || len(d) > 1514 {
			skipped++
			continue
		}
		frames = append(frames, append([]byte(nil), d...))
	}
	if len(frames) == 0 {
		return nil, 0, fmt.Errorf("%s: no frame to send (%d skipped)", name, skipped)
	}
	return frames, skipped, nil
}
