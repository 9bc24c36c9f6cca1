package pcap

import (
	"bytes"
	"net/netip"
	"time"
)

// scanAnnouncements reads FTP and IRC control traffic for the data
// connections it announces, so they get ftp-data / irc-dcc-data.
func (t *Table) scanAnnouncements(f *conn, pay []byte) {
	h := &f.svcHint
	if (h.o|h.r)&(h220|hFTPCmd|hIRCCmd) == 0 {
		return
	}
	exp := f.last + int64(5*time.Minute)
	if i := bytes.Index(pay, []byte("227 ")); i >= 0 {
		if a, port, ok := parseFTPHostPort(pay[i+4:], true); ok {
			t.expect.add(a, port, svcFTPData, exp)
		}
	}
	if bytes.HasPrefix(pay, []byte("PORT ")) || bytes.HasPrefix(pay, []byte("port ")) {
		if a, port, ok := parseFTPHostPort(pay[5:], false); ok {
			t.expect.add(a, port, svcFTPData, exp)
		}
	}
	if bytes.HasPrefix(pay, []byte("EPRT ")) || bytes.HasPrefix(pay, []byte("eprt ")) {
		if a, port, ok := parseEPRT(pay[5:]); ok {
			t.expect.add(a, port, svcFTPData, exp)
		}
	}
	if i := bytes.Index(pay, []byte("229 ")); i >= 0 {
		if port, ok := parseEPSV(pay[i+4:]); ok {
			// The server's address: the responder of the control connection.
			t.expect.add(f.respAddr(), port, svcFTPData, exp)
		}
	}
	if i := bytes.Index(pay, []byte("DCC SEND ")); i >= 0 {
		if a, port, ok := parseDCCSend(pay[i+9:]); ok {
			t.expect.add(a, port, svcIRCDCC, exp)
		}
	}
}

// parseFTPHostPort parses "h1,h2,h3,h4,p1,p2" (after skipping to the first
// digit when skip is set, as in "Entering Passive Mode (...)").
func parseFTPHostPort(b []byte, skip bool) (addr [16]byte, port uint16, ok bool) {
	if skip {
		i := bytes.IndexByte(b, '(')
		if i < 0 {
			for i = 0; i < len(b) && (b[i] < '0' || b[i] > '9'); i++ {
			}
			if i == len(b) {
				return addr, 0, false
			}
			i--
		}
		b = b[i+1:]
	}
	var v [6]int
	k := 0
	cur, digits := 0, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			cur = cur*10 + int(c-'0')
			digits++
			if cur > 255 {
				return addr, 0, false
			}
		case c == ',' && digits > 0 && k < 5:
			v[k] = cur
			k++
			cur, digits = 0, 0
		default:
			if k == 5 && digits > 0 {
				goto done
			}
			return addr, 0, false
		}
	}
	if k != 5 || digits == 0 {
		return addr, 0, false
	}
done:
	v[5] = cur
	addr = v4mapped(byte(v[0]), byte(v[1]), byte(v[2]), byte(v[3]))
	return addr, uint16(v[4]<<8 | v[5]), true
}

// parseEPSV parses "Entering Extended Passive Mode (|||port|)".
func parseEPSV(b []byte) (uint16, bool) {
	i := bytes.Index(b, []byte("|||"))
	if i < 0 {
		return 0, false
	}
	n := 0
	d := 0
	for _, c := range b[i+3:] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		d++
		if n > 65535 {
			return 0, false
		}
	}
	return uint16(n), d > 0 && n > 0
}

// parseEPRT parses an EPRT argument, "|1|10.0.0.1|6275|" or
// "|2|2001:db8::1|5282|" (RFC 2428).
func parseEPRT(b []byte) (addr [16]byte, port uint16, ok bool) {
	if len(b) < 2 {
		return addr, 0, false
	}
	d := b[0]
	f := bytes.Split(b[1:], []byte{d})
	if len(f) < 4 {
		return addr, 0, false
	}
	ip, err := netip.ParseAddr(string(f[1]))
	if err != nil {
		return addr, 0, false
	}
	p, okp := atou(f[2], 65535)
	if !okp || p == 0 {
		return addr, 0, false
	}
	return ip.As16(), uint16(p), true
}

// parseDCCSend parses "name ip port ..." where ip is a decimal number.
func parseDCCSend(b []byte) (addr [16]byte, port uint16, ok bool) {
	f := bytes.Fields(b)
	if len(f) < 3 {
		return addr, 0, false
	}
	ip, ok1 := atou(f[1], 1<<32-1)
	pt, ok2 := atou(f[2], 65535)
	if !ok1 || !ok2 || pt == 0 {
		return addr, 0, false
	}
	return v4mapped(byte(ip>>24), byte(ip>>16), byte(ip>>8), byte(ip)), uint16(pt), true
}

func atou(b []byte, limit uint64) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c == 1 { // the closing ^A of a CTCP message
			break
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > limit {
			return 0, false
		}
	}
	return n, true
}

func v4mapped(a, b, c, d byte) [16]byte {
	return [16]byte{10: 0xff, 11: 0xff, 12: a, 13: b, 14: c, 15: d}
}

// respAddr returns the responder's address in 16-byte form.
func (f *conn) respAddr() [16]byte {
	if f.origLo {
		return f.key.hiAddr
	}
	return f.key.loAddr
}

// expectTable holds data connections announced on control connections
// (FTP PORT/PASV, IRC DCC), keyed by the responder's address and port.
type expectTable struct {
	m       map[expectKey]expectEntry
	dropped uint64
}

type expectKey struct {
	addr [16]byte
	port uint16
}

type expectEntry struct {
	svc     uint8
	expires int64
}

// maxExpected bounds the announced data connections held at once.
const maxExpected = 4096

func (x *expectTable) init() { x.m = make(map[expectKey]expectEntry) }

func (x *expectTable) add(addr [16]byte, port uint16, svc uint8, expires int64) {
	k := expectKey{addr, port}
	if _, ok := x.m[k]; !ok && len(x.m) >= maxExpected {
		// Make room by dropping expired entries; count what we cannot keep.
		for kk, e := range x.m {
			if e.expires < expires-int64(5*time.Minute) {
				delete(x.m, kk)
			}
		}
		if len(x.m) >= maxExpected {
			x.dropped++
			return
		}
	}
	x.m[k] = expectEntry{svc: svc, expires: expires}
}

// lookup returns the service announced for a new connection's responder.
func (x *expectTable) lookup(f *conn, now int64) uint8 {
	if len(x.m) == 0 || f.proto != ipProtoTCP {
		return 0
	}
	k := expectKey{f.respAddr(), f.respPort}
	e, ok := x.m[k]
	if !ok {
		return 0
	}
	delete(x.m, k)
	if e.expires < now {
		return 0
	}
	return e.svc
}
