package pcap

import (
	"bytes"
	"net/netip"
	"time"
)

// Service recognition: the first payload packet of each direction is
// classified once (a few byte comparisons), and the names are decided when
// the connection is written, the way Zeek's analyzers confirm a protocol:
// some from one side's greeting, some only when both sides agree, some only
// on their registered ports. Protocols that can switch to TLS (STARTTLS) keep
// looking at a few more packets for a TLS ClientHello; FTP and IRC control
// connections are read for the data connections they announce (ftp-data,
// irc-dcc-data).

// Service ids; serviceNames gives Zeek's name of each.
const (
	svcNone uint8 = iota
	svcDNS
	svcHTTP
	svcSSL
	svcSSH
	svcSMTP
	svcFTP
	svcFTPData
	svcDHCP
	svcNTP
	svcQUIC
	svcVXLAN
	svcTeredo
	svcAYIYA
	svcGTP
	svcGeneve
	svcIRC
	svcIRCDCC
	svcIMAP
	svcPOP3
	svcMySQL
	svcModbus
	svcRDP
	svcRDPEUDP
	svcDCERPC
	svcSMB
	svcSIP
	svcSNMP
	svcSyslog
	svcRFB
	svcDTLS
	svcKRB
	svcKRBTCP
	svcRADIUS
	svcDNP3TCP
	svcDNP3UDP
	numServices
)

var serviceNames = [numServices]string{
	svcDNS: "dns", svcHTTP: "http", svcSSL: "ssl", svcSSH: "ssh", svcSMTP: "smtp",
	svcFTP: "ftp", svcFTPData: "ftp-data", svcDHCP: "dhcp", svcNTP: "ntp", svcQUIC: "quic",
	svcVXLAN: "vxlan", svcTeredo: "teredo", svcAYIYA: "ayiya", svcGTP: "gtpv1",
	svcGeneve: "geneve", svcIRC: "irc", svcIRCDCC: "irc-dcc-data", svcIMAP: "imap",
	svcPOP3: "pop3", svcMySQL: "mysql", svcModbus: "modbus", svcRDP: "rdp",
	svcRDPEUDP: "rdpeudp", svcDCERPC: "dce_rpc", svcSMB: "smb", svcSIP: "sip",
	svcSNMP: "snmp", svcSyslog: "syslog", svcRFB: "rfb", svcDTLS: "dtls",
	svcKRB: "krb", svcKRBTCP: "krb_tcp", svcRADIUS: "radius", svcDNP3TCP: "dnp3_tcp", svcDNP3UDP: "dnp3_udp",
}

func serviceID(name string) uint8 {
	for i, n := range serviceNames {
		if n == name && i != 0 {
			return uint8(i)
		}
	}
	return 0
}

// Content hints found in the first payload of a direction.
const (
	hHTTPReq uint64 = 1 << iota
	hHTTPResp
	hTLSClient
	hTLSServer
	hSSH
	h220
	hSMTPCmd
	hFTPCmd
	hPOPOK
	hPOPCmd
	hIMAPOK
	hIRCCmd
	hMySQLGreet
	hDNS
	hDHCP
	hNTP
	hQUIC
	hRDP
	hRDPEUDP
	hModbus
	hDCERPC
	hSMB
	hSIP
	hSNMP
	hSyslog
	hRFB
	hDTLS
	hTeredo
	hIRCResp
	hKRB
	hRADIUS
	hDNP3
	hVXLAN
	hGTP
	hGeneve
)

// svcState is a connection's service recognition state.
type svcState struct {
	o, r     uint64 // hints from the originator's and the responder's first payload
	ssl      bool   // a TLS ClientHello followed a plain-text greeting (STARTTLS)
	scanLeft uint8  // further payload packets to look at
}

func (s *svcState) flip() { s.o, s.r = s.r, s.o }

// maxScan bounds the payload packets read after the first one of a
// direction (STARTTLS and FTP/IRC announcements).
const maxScan = 64

// inspect looks at a payload packet of f; isOrig is the direction in the
// connection's current roles.
func (t *Table) inspect(f *conn, p *Packet, isOrig bool) {
	pay := p.Payload
	if len(pay) == 0 {
		return
	}
	h := &f.svcHint
	var n *uint8
	if isOrig {
		n = &f.nOrigPay
	} else {
		n = &f.nRespPay
	}
	if *n < 255 {
		*n++
	}
	if *n == 1 {
		bits := classify(pay, f.proto == ipProtoTCP, f.respPort, f.origPort, isOrig)
		if isOrig {
			h.o |= bits
		} else {
			h.r |= bits
		}
		if f.proto == ipProtoTCP && (h.o|h.r)&(h220|hPOPOK|hIMAPOK|hMySQLGreet|hIRCCmd|hSMTPCmd|hFTPCmd|hPOPCmd) != 0 {
			h.scanLeft = maxScan
		}
		if f.proto == ipProtoTCP && isOrig && bits&hIRCCmd != 0 {
			t.scanAnnouncements(f, pay)
		}
		return
	}
	if h.scanLeft == 0 {
		return
	}
	h.scanLeft--
	if isOrig && !h.ssl && isTLSClientHello(pay) {
		h.ssl = true
	}
	t.scanAnnouncements(f, pay)
}

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

// classify returns the hints of one direction's first payload.
func classify(b []byte, tcp bool, respPort, origPort uint16, isOrig bool) uint64 {
	var h uint64
	if tcp {
		switch {
		case isHTTPRequest(b):
			h |= hHTTPReq
		case bytes.HasPrefix(b, []byte("HTTP/1.")) || bytes.HasPrefix(b, []byte("HTTP/2")):
			h |= hHTTPResp
		case isTLSClientHello(b):
			h |= hTLSClient
		case isTLSServerHello(b):
			h |= hTLSServer
		case bytes.HasPrefix(b, []byte("SSH-")):
			h |= hSSH
		case bytes.HasPrefix(b, []byte("220")) && len(b) > 3 && (b[3] == ' ' || b[3] == '-'):
			h |= h220
		case hasPrefixFold(b, "EHLO ") || hasPrefixFold(b, "HELO "):
			h |= hSMTPCmd
		case hasPrefixFold(b, "USER ") && !isOrigIRC(b):
			h |= hFTPCmd | hPOPCmd
		case hasPrefixFold(b, "AUTH TLS") || hasPrefixFold(b, "FEAT"):
			h |= hFTPCmd
		case bytes.HasPrefix(b, []byte("+OK")):
			h |= hPOPOK
		case hasPrefixFold(b, "CAPA") || hasPrefixFold(b, "APOP ") || hasPrefixFold(b, "STLS"):
			h |= hPOPCmd
		case bytes.HasPrefix(b, []byte("* OK")) || bytes.HasPrefix(b, []byte("* PREAUTH")):
			h |= hIMAPOK
		case isOrigIRC(b):
			h |= hIRCCmd
		case len(b) > 2 && b[0] == ':' && b[1] != ' ':
			h |= hIRCResp
		case isMySQLGreeting(b):
			h |= hMySQLGreet
		case bytes.HasPrefix(b, []byte("RFB 00")):
			h |= hRFB
		case isRDPConnReq(b):
			h |= hRDP
		case isDCERPC(b):
			h |= hDCERPC
		case len(b) >= 8 && (bytes.Equal(b[4:8], []byte("\xffSMB")) || bytes.Equal(b[4:8], []byte("\xfeSMB"))):
			h |= hSMB
		}
		if (respPort == 88 || origPort == 88) && len(b) > 4 && isKRB(b[4:]) {
			h |= hKRB
		}
		if (respPort == 20000 || origPort == 20000) && isDNP3(b) {
			h |= hDNP3
		}
		if (respPort == 502 || origPort == 502) && isModbus(b) {
			h |= hModbus
		}
		if (respPort == 53 || origPort == 53) && len(b) > 2 && looksDNS(b[2:]) {
			h |= hDNS
		}
		return h
	}
	// UDP
	port := respPort
	switch {
	case isDNSPort(port) || isDNSPort(origPort):
		if looksDNS(b) {
			h |= hDNS
		}
	case (port == 67 || port == 68) && len(b) >= 240 && (b[0] == 1 || b[0] == 2) &&
		bytes.Equal(b[236:240], []byte{0x63, 0x82, 0x53, 0x63}):
		h |= hDHCP
	case (port == 123 || origPort == 123) && len(b) >= 48 && (b[0]>>3)&7 >= 1 && (b[0]>>3)&7 <= 4 && b[0]&7 != 0:
		h |= hNTP
	case (port == 161 || port == 162) && len(b) > 2 && b[0] == 0x30:
		h |= hSNMP
	case port == 514 && len(b) > 2 && b[0] == '<':
		h |= hSyslog
	case (port == 88 || origPort == 88) && isKRB(b):
		h |= hKRB
	case (port == 1812 || origPort == 1812) && len(b) >= 20 && int(b[2])<<8|int(b[3]) == len(b) &&
		(b[0] >= 1 && b[0] <= 5 || b[0] >= 11 && b[0] <= 13):
		h |= hRADIUS
	case (port == 20000 || origPort == 20000) && isDNP3(b):
		h |= hDNP3
	case port == 4789 && len(b) >= 8+14 && b[0]&0x08 != 0 && b[1] == 0 && b[2] == 0 && b[3] == 0 && b[7] == 0:
		// VXLAN: the I flag and reserved zeros; confirmed whatever the
		// inner frame (the decoder only yields inner IP packets).
		h |= hVXLAN
	case port == 6081 && len(b) >= 8 && b[0]>>6 == 0 && 8+int(b[0]&0x3f)*4 <= len(b):
		h |= hGeneve
	case (port == 2152 || port == 2123) && len(b) >= 8 && b[0]>>5 == 1 && b[0]&0x10 != 0 &&
		int(b[2])<<8|int(b[3])+8 == len(b):
		h |= hGTP
	case (port == 3544 || origPort == 3544) && isTeredo(b):
		h |= hTeredo
	case port == 3389 && len(b) >= 8:
		h |= hRDPEUDP
	case isSIP(b):
		h |= hSIP
	case isQUICInitial(b, port):
		h |= hQUIC
	case len(b) > 13 && b[0] == 0x16 && b[1] == 0xfe && (b[2] == 0xff || b[2] == 0xfd):
		h |= hDTLS
	}
	return h
}

// isTeredo checks a Teredo datagram: optional authentication and origin
// indication headers, then an IPv6 header whose length fits the datagram.
func isTeredo(b []byte) bool {
	for len(b) >= 2 && b[0] == 0 {
		switch b[1] {
		case 1: // authentication: id and auth values, nonce, confirmation
			if len(b) < 4 {
				return false
			}
			n := 4 + int(b[2]) + int(b[3]) + 9
			if len(b) < n {
				return false
			}
			b = b[n:]
		case 0: // origin indication
			if len(b) < 8 {
				return false
			}
			b = b[8:]
		default:
			return false
		}
	}
	return len(b) >= 40 && b[0]>>4 == 6 && int(b[4])<<8|int(b[5])+40 <= len(b)
}

// respAddr returns the responder's address in 16-byte form.
func (f *conn) respAddr() [16]byte {
	if f.origLo {
		return f.key.hiAddr
	}
	return f.key.loAddr
}

// isKRB checks for a Kerberos message: an ASN.1 application tag of
// AS-REQ/REP, TGS-REQ/REP, AP-REQ/REP or KRB-ERROR.
func isKRB(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	switch b[0] {
	case 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x7e:
		return b[1] >= 0x80 || int(b[1])+2 <= len(b)
	}
	return false
}

// isDNP3 checks for a DNP3 link-layer frame start (0x05 0x64).
func isDNP3(b []byte) bool { return len(b) >= 10 && b[0] == 0x05 && b[1] == 0x64 }

func isDNSPort(p uint16) bool { return p == 53 || p == 137 || p == 5353 || p == 5355 }

func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && bytes.EqualFold(b[:len(s)], []byte(s))
}

var httpMethods = [...]string{"GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "CONNECT ", "TRACE ", "PATCH ", "PROPFIND ", "SUBSCRIBE ", "NOTIFY ", "M-SEARCH "}

func isHTTPRequest(b []byte) bool {
	for _, m := range httpMethods {
		if len(b) > len(m) && string(b[:len(m)]) == m {
			return true
		}
	}
	return false
}

func isTLSRecord(b []byte) bool {
	return len(b) >= 6 && b[0] == 0x16 && b[1] == 0x03 && b[2] <= 0x04
}

func isTLSClientHello(b []byte) bool {
	if isTLSRecord(b) {
		return b[5] == 0x01
	}
	// SSLv2-framed ClientHello: 2-byte length with the high bit, type 1, version 3.x or 2.
	return len(b) >= 5 && b[0]&0x80 != 0 && b[2] == 0x01 && (b[3] == 0x03 || b[3] == 0x00) && b[4] <= 0x04
}

func isTLSServerHello(b []byte) bool { return isTLSRecord(b) && b[5] == 0x02 }

func isOrigIRC(b []byte) bool {
	return hasPrefixFold(b, "NICK ") || hasPrefixFold(b, "PASS ") && bytes.Contains(b, []byte("\nNICK ")) ||
		hasPrefixFold(b, "USER ") && bytes.Contains(b, []byte("NICK ")) || hasPrefixFold(b, "CAP LS")
}

func isMySQLGreeting(b []byte) bool {
	if len(b) < 10 || b[3] != 0 || b[4] != 10 {
		return false
	}
	n := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
	if n+4 != len(b) && n+4 > len(b) {
		return false
	}
	// A NUL-terminated printable version string follows.
	for i := 5; i < len(b) && i < 64; i++ {
		if b[i] == 0 {
			return i > 5
		}
		if b[i] < 0x20 || b[i] > 0x7e {
			return false
		}
	}
	return false
}

// isRDPConnReq: a TPKT header with an X.224 Connection Request.
func isRDPConnReq(b []byte) bool {
	return len(b) >= 11 && b[0] == 3 && b[1] == 0 && int(b[2])<<8|int(b[3]) == len(b) && b[5]&0xf0 == 0xe0
}

func isDCERPC(b []byte) bool {
	return len(b) >= 16 && b[0] == 5 && b[1] <= 1 && b[2] <= 19 && (b[4] == 0x10 || b[4] == 0x00) &&
		int(b[8])|int(b[9])<<8 == len(b)
}

func isModbus(b []byte) bool {
	if len(b) < 8 || b[2] != 0 || b[3] != 0 {
		return false
	}
	n := int(b[4])<<8 | int(b[5])
	fc := b[7] & 0x7f
	return n+6 == len(b) && fc >= 1 && fc <= 127 && n >= 2
}

func isSIP(b []byte) bool {
	return bytes.HasPrefix(b, []byte("SIP/2.0 ")) ||
		(bytes.HasPrefix(b, []byte("INVITE sip:")) || bytes.HasPrefix(b, []byte("REGISTER sip:")) ||
			bytes.HasPrefix(b, []byte("OPTIONS sip:")))
}

func isQUICInitial(b []byte, port uint16) bool {
	if len(b) < 7 || b[0]&0xc0 != 0xc0 {
		return false
	}
	v := uint32(b[1])<<24 | uint32(b[2])<<16 | uint32(b[3])<<8 | uint32(b[4])
	known := v == 1 || v == 0x6b3343cf || v&0xffffff00 == 0xff000000
	return known && (port == 443 || len(b) >= 1200)
}

// looksDNS checks a DNS header: a sane opcode and counts.
func looksDNS(b []byte) bool {
	if len(b) < 12 {
		return false
	}
	op := (b[2] >> 3) & 0xf
	qd := int(b[4])<<8 | int(b[5])
	an := int(b[6])<<8 | int(b[7])
	ns := int(b[8])<<8 | int(b[9])
	ar := int(b[10])<<8 | int(b[11])
	return op <= 6 && qd <= 32 && an <= 1024 && ns <= 1024 && ar <= 1024 && qd+an+ns+ar > 0
}

// finishService turns the hints into service names, in the order Zeek
// would confirm them.
func (t *Table) finishService(f *conn) {
	h := &f.svcHint
	o, r := h.o, h.r
	if o|r == 0 {
		return
	}
	rp := f.respPort
	if f.proto == ipProtoTCP {
		// Zeek's application analyzers ignore partial connections (those
		// whose first packets were not a SYN and its SYN-ACK).
		if f.tcp == nil || f.tcp.isPartial {
			return
		}
		switch {
		case o&hHTTPReq != 0 && (r&hHTTPResp != 0 || isHTTPPort(rp)):
			f.addService(svcHTTP)
		case o&hSSH != 0 && r&hSSH != 0: // a server banner alone is not enough (half-duplex-server)
			f.addService(svcSSH)
		case r&h220 != 0 && (o&hSMTPCmd != 0 || (o&hFTPCmd == 0 && (rp == 25 || rp == 587))):
			f.addService(svcSMTP)
		case r&h220 != 0 && (o&hFTPCmd != 0 || rp == 21 || rp == 2811):
			f.addService(svcFTP)
		case r&hPOPOK != 0 && (o&hPOPCmd != 0 || rp == 110):
			f.addService(svcPOP3)
		case r&hIMAPOK != 0:
			f.addService(svcIMAP)
		case o&hIRCCmd != 0 && (r&hIRCResp != 0 || (rp >= 6666 && rp <= 6669)):
			f.addService(svcIRC)
		case r&hMySQLGreet != 0:
			f.addService(svcMySQL)
		case r&hRFB != 0 && o&hRFB != 0:
			f.addService(svcRFB)
		case o&hRDP != 0 && rp == 3389:
			f.addService(svcRDP)
		case o&hModbus != 0 && rp == 502:
			f.addService(svcModbus)
		case o&hDCERPC != 0:
			f.addService(svcDCERPC)
		case o&hSMB != 0:
			f.addService(svcSMB)
		case o&hDNS != 0 || r&hDNS != 0:
			f.addService(svcDNS)
		case (o|r)&hKRB != 0:
			f.addService(svcKRBTCP)
		case (o|r)&hDNP3 != 0:
			f.addService(svcDNP3TCP)
		}
		if o&hTLSClient != 0 || h.ssl {
			f.addService(svcSSL)
		}
		return
	}
	b := o | r
	switch {
	case b&hTeredo != 0:
		f.addService(svcTeredo)
	case b&hVXLAN != 0:
		f.addService(svcVXLAN)
	case b&hGeneve != 0:
		f.addService(svcGeneve)
	case b&hGTP != 0:
		f.addService(svcGTP)
	case b&hKRB != 0:
		f.addService(svcKRB)
	case b&hRADIUS != 0:
		f.addService(svcRADIUS)
	case b&hDNP3 != 0:
		f.addService(svcDNP3UDP)
	case b&hDNS != 0:
		f.addService(svcDNS)
	case b&hDHCP != 0:
		f.addService(svcDHCP)
	case b&hNTP != 0:
		f.addService(svcNTP)
	case b&hSNMP != 0:
		f.addService(svcSNMP)
	case b&hSyslog != 0:
		f.addService(svcSyslog)
	case o&hRDPEUDP != 0 && r&hRDPEUDP != 0:
		f.addService(svcRDPEUDP)
	case b&hSIP != 0:
		f.addService(svcSIP)
	case o&hQUIC != 0:
		// Zeek's QUIC analyzer hands the Initial's TLS handshake to the
		// SSL analyzer, so both are logged.
		f.addService(svcQUIC)
		f.addService(svcSSL)
	case o&hDTLS != 0 && r&hDTLS != 0:
		f.addService(svcDTLS)
	}
}

func isHTTPPort(p uint16) bool {
	switch p {
	case 80, 81, 631, 1080, 3128, 8000, 8080, 8888:
		return true
	}
	return false
}

// likelyServerPort reports whether Zeek's default scripts list the port in
// likely_server_ports (the ports its analyzers register), which decides the
// originator of connections whose first packet is not a SYN.
func likelyServerPort(port uint16, udp bool) bool {
	if udp {
		return udpServerPorts[port>>6]&(1<<(port&63)) != 0
	}
	return tcpServerPorts[port>>6]&(1<<(port&63)) != 0
}

var tcpServerPorts, udpServerPorts [1024]uint64

func init() {
	// The ports of the analyzers Zeek's default scripts load (each
	// protocol's script adds its server ports to likely_server_ports).
	// Not IRC's 6666-6669: Zeek dropped them (zeek#2191, btest
	// core.tcp.flip-without-syn: HTTP from client port 6669 is flipped),
	// and of DHCP only the server port 67.
	tcp := []uint16{21, 2811, 22, 25, 587, 53, 80, 81, 631, 1080, 3128, 8000, 8080, 8888,
		110, 143, 443, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223,
		1434, 3306, 502, 20000, 3389, 5222, 5269, 139, 445, 135,
		389, 3268, 88, 5432}
	udp := []uint16{53, 137, 5353, 5355, 67, 123, 161, 162, 514, 5060, 1812, 88,
		3389, 443, 5072, 3544, 2152, 2123, 4789, 6081, 20000, 389}
	for _, p := range tcp {
		tcpServerPorts[p>>6] |= 1 << (p & 63)
	}
	for _, p := range udp {
		udpServerPorts[p>>6] |= 1 << (p & 63)
	}
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
