package capture

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
	"golang.org/x/net/bpf"
)

// BPF filters are compiled by libpcap's own compiler, the one tcpdump and
// every capture tool use, so a filter means here what it means there. It is
// loaded at run time (dlopen, through purego) rather than linked with cgo:
// the default build then needs no C compiler and no libpcap headers, and
// only a run that asks for a filter needs the library itself (Debian:
// libpcap0.8, which tcpdump and nmap already pull in). Writing a compiler
// of our own for tcpdump's language was the alternative; it would be a
// second, subtly different dialect.

// libpcapNames are the shared-object names tried, newest soname first.
var libpcapNames = []string{"libpcap.so.1", "libpcap.so.0.8", "libpcap.so", "libpcap.A.dylib", "libpcap.dylib"}

// ErrNoLibpcap is returned when a filter is asked for and libpcap cannot be
// loaded.
var ErrNoLibpcap = errors.New("BPF filters need libpcap at run time (Debian: apt-get install libpcap0.8)")

// bpfProgram is libpcap's struct bpf_program.
type bpfProgram struct {
	len   uint32
	_     uint32
	insns *bpfInsn // C memory, freed by pcap_freecode
}

// bpfInsn is struct bpf_insn.
type bpfInsn struct {
	code uint16
	jt   uint8
	jf   uint8
	k    uint32
}

var libpcap struct {
	once     sync.Once
	err      error
	mu       sync.Mutex // pcap_compile is not reentrant in older libpcaps
	openDead func(linktype, snaplen int32) uintptr
	compile  func(p uintptr, prog *bpfProgram, expr string, optimize int32, netmask uint32) int32
	geterr   func(p uintptr) string
	freecode func(prog *bpfProgram)
	close    func(p uintptr)
}

func loadLibpcap() error {
	libpcap.once.Do(func() {
		var h uintptr
		var errs []error
		for _, n := range libpcapNames {
			var err error
			if h, err = purego.Dlopen(n, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
				break
			}
			errs = append(errs, err)
		}
		if h == 0 {
			libpcap.err = fmt.Errorf("%w: %w", ErrNoLibpcap, errors.Join(errs...))
			return
		}
		purego.RegisterLibFunc(&libpcap.openDead, h, "pcap_open_dead")
		purego.RegisterLibFunc(&libpcap.compile, h, "pcap_compile")
		purego.RegisterLibFunc(&libpcap.geterr, h, "pcap_geterr")
		purego.RegisterLibFunc(&libpcap.freecode, h, "pcap_freecode")
		purego.RegisterLibFunc(&libpcap.close, h, "pcap_close")
	})
	return libpcap.err
}

// netmaskUnknown is PCAP_NETMASK_UNKNOWN: filters that test for broadcast
// addresses fail to compile, as with tcpdump on an interface without IPv4.
const netmaskUnknown = 0xffffffff

// CompileBPF compiles a tcpdump-style filter for frames of the given link
// type (a DLT number, 1 for Ethernet) into classic BPF, whose accepting
// return is snaplen: the kernel then also cuts packets to snaplen. An empty
// filter accepts everything and needs no libpcap.
func CompileBPF(filter string, linkType, snaplen int) ([]bpf.RawInstruction, error) {
	if filter == "" {
		return bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: uint32(snaplen)}})
	}
	if err := loadLibpcap(); err != nil {
		return nil, fmt.Errorf("capture: filter %q: %w", filter, err)
	}
	libpcap.mu.Lock()
	defer libpcap.mu.Unlock()
	p := libpcap.openDead(int32(linkType), int32(snaplen))
	if p == 0 {
		return nil, fmt.Errorf("capture: filter %q: pcap_open_dead failed", filter)
	}
	defer libpcap.close(p)
	var prog bpfProgram
	if libpcap.compile(p, &prog, filter, 1, netmaskUnknown) != 0 {
		return nil, fmt.Errorf("capture: filter %q: %s", filter, libpcap.geterr(p))
	}
	defer libpcap.freecode(&prog)
	insns := unsafe.Slice(prog.insns, prog.len)
	out := make([]bpf.RawInstruction, len(insns))
	for i, in := range insns {
		out[i] = bpf.RawInstruction{Op: in.code, Jt: in.jt, Jf: in.jf, K: in.k}
	}
	return out, nil
}
