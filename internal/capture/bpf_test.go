package capture

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
)

// TestCompileBPF checks the compiled filters against the frames they must
// and must not accept, with x/net/bpf's interpreter.
func TestCompileBPF(t *testing.T) {
	if err := loadLibpcap(); errors.Is(err, ErrNoLibpcap) {
		t.Skipf("no libpcap on this machine: %v", err)
	}
	tcp80 := ethIPv4(6, 80)
	udp53 := ethIPv4(17, 53)
	for _, tc := range []struct {
		filter      string
		accept      [][]byte
		reject      [][]byte
		wantErrPart string
	}{
		{filter: "", accept: [][]byte{tcp80, udp53}},
		{filter: "tcp port 80", accept: [][]byte{tcp80}, reject: [][]byte{udp53}},
		{filter: "udp and not port 80", accept: [][]byte{udp53}, reject: [][]byte{tcp80}},
		{filter: "host 10.0.0.1", accept: [][]byte{tcp80, udp53}},
		{filter: "host 10.9.9.9", reject: [][]byte{tcp80, udp53}},
		{filter: "tcp prot 80", wantErrPart: `filter "tcp prot 80": can't parse filter expression: syntax error`},
	} {
		raw, err := CompileBPF(tc.filter, 1, 1500)
		if tc.wantErrPart != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErrPart) {
				t.Errorf("%q: error %v, want one containing %q", tc.filter, err, tc.wantErrPart)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.filter, err)
		}
		insns, ok := bpf.Disassemble(raw)
		if !ok {
			t.Logf("%q: some instructions not disassembled", tc.filter)
		}
		vm, err := bpf.NewVM(insns)
		if err != nil {
			t.Fatalf("%q: %v", tc.filter, err)
		}
		for _, f := range tc.accept {
			if n, err := vm.Run(f); err != nil || n == 0 {
				t.Errorf("%q rejects a frame it should accept (%d, %v)", tc.filter, n, err)
			} else if n != 1500 {
				t.Errorf("%q: accepts with %d bytes, want the snaplen 1500", tc.filter, n)
			}
		}
		for _, f := range tc.reject {
			if n, err := vm.Run(f); err != nil || n != 0 {
				t.Errorf("%q accepts a frame it should reject (%d, %v)", tc.filter, n, err)
			}
		}
	}
}

// ethIPv4 is an Ethernet frame with an IPv4 header from 10.0.0.1 to
// 10.0.0.2 and a transport header with the given destination port.
func ethIPv4(proto byte, dport uint16) []byte {
	f := make([]byte, 14+20+20)
	f[12], f[13] = 0x08, 0x00
	ip := f[14:]
	ip[0] = 0x45
	ip[3] = 40
	ip[8] = 64
	ip[9] = proto
	copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	l4 := ip[20:]
	l4[0], l4[1] = 0x30, 0x39
	l4[2], l4[3] = byte(dport>>8), byte(dport)
	return f
}
