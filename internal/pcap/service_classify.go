package pcap

import (
	"bytes"
)

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
