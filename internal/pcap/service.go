package pcap

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
