package eve

// Keys of the members the mapping reads, as small codes: the scanners look
// a key up the first time they see it (see jscan.Order), not once per line.
const (
	kOther uint8 = iota
	// top level
	kEventType
	kFlowID
	kTimestamp
	kSrcIP
	kDestIP
	kSrcPort
	kDestPort
	kICMPType
	kICMPCode
	kProto
	kAppProto
	kCommunityID
	kVLAN
	kFlow
	kNetflow
	kTCP
	// in flow and netflow
	kPktsTS
	kPktsTC
	kBytesTS
	kBytesTC
	kPkts
	kBytes
	kStart
	kEnd
	kState
	// in tcp
	kTCPFlags
	kTCPFlagsTS
	kTCPFlagsTC
	kSYN
	kFIN
	kRST
	kPSH
	kACK
)

func topKey(k []byte) uint8 {
	switch string(k) {
	case "event_type":
		return kEventType
	case "flow_id":
		return kFlowID
	case "timestamp":
		return kTimestamp
	case "src_ip":
		return kSrcIP
	case "dest_ip":
		return kDestIP
	case "src_port":
		return kSrcPort
	case "dest_port":
		return kDestPort
	case "icmp_type":
		return kICMPType
	case "icmp_code":
		return kICMPCode
	case "proto":
		return kProto
	case "app_proto":
		return kAppProto
	case "community_id":
		return kCommunityID
	case "vlan":
		return kVLAN
	case "flow":
		return kFlow
	case "netflow":
		return kNetflow
	case "tcp":
		return kTCP
	}
	return kOther
}

func flowKey(k []byte) uint8 {
	switch string(k) {
	case "pkts_toserver":
		return kPktsTS
	case "pkts_toclient":
		return kPktsTC
	case "bytes_toserver":
		return kBytesTS
	case "bytes_toclient":
		return kBytesTC
	case "start":
		return kStart
	case "end":
		return kEnd
	case "state":
		return kState
	}
	return kOther
}

func netflowKey(k []byte) uint8 {
	switch string(k) {
	case "pkts":
		return kPkts
	case "bytes":
		return kBytes
	case "start":
		return kStart
	case "end":
		return kEnd
	}
	return kOther
}

func tcpKey(k []byte) uint8 {
	switch string(k) {
	case "tcp_flags":
		return kTCPFlags
	case "tcp_flags_ts":
		return kTCPFlagsTS
	case "tcp_flags_tc":
		return kTCPFlagsTC
	case "syn":
		return kSYN
	case "fin":
		return kFIN
	case "rst":
		return kRST
	case "psh":
		return kPSH
	case "ack":
		return kACK
	}
	return kOther
}
