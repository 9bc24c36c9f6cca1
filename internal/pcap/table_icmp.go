package pcap

// icmp4Counterpart is Zeek's ICMP4_counterpart: the reply type of a request
// type and vice versa; for one-way messages, the code.
func icmp4Counterpart(typ, code uint16) uint16 {
	switch typ {
	case 8:
		return 0
	case 0:
		return 8
	case 13:
		return 14
	case 14:
		return 13
	case 15:
		return 16
	case 16:
		return 15
	case 10:
		return 9
	case 9:
		return 10
	case 17:
		return 18
	case 18:
		return 17
	}
	return code
}

// icmp6Counterpart is Zeek's ICMP6_counterpart.
func icmp6Counterpart(typ, code uint16) uint16 {
	switch typ {
	case 128:
		return 129
	case 129:
		return 128
	case 133:
		return 134
	case 134:
		return 133
	case 135:
		return 136
	case 136:
		return 135
	case 130:
		return 131
	case 131:
		return 130
	case 139:
		return 140
	case 140:
		return 139
	case 144:
		return 145
	case 145:
		return 144
	}
	return code
}
