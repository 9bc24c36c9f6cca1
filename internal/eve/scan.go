package eve

import (
	"errors"

	"github.com/mlads/mlads/internal/jscan"
	"github.com/mlads/mlads/internal/logline"
)

// scan reads the members of one EVE line into p.ev. It stops early, without
// reading the rest, once event_type names a type that carries no flow.
func (p *Parser) scan(line []byte) error {
	ev := &p.ev
	it := &p.it
	if err := it.Init(line); err != nil {
		return p.lineErr(logline.KindJSON, "", line, err)
	}
	o := &p.top
	o.Start()
	for {
		key, _, code, kind, val, err := o.Next(it, topKey)
		if err != nil {
			if errors.Is(err, jscan.ErrEnd) {
				return nil
			}
			return p.lineErr(logline.KindJSON, "", line, err)
		}
		if kind == jscan.Null || code == kOther {
			continue
		}
		switch code {
		case kEventType:
			if kind != jscan.String {
				return p.lineErr(logline.KindJSON, "event_type", val, errNotString)
			}
			ev.eventType = val
			if string(val) != "flow" && string(val) != "netflow" {
				return nil
			}
		case kFlowID:
			n, err := jscan.ParseUint(val)
			if err != nil {
				return p.lineErr(logline.KindNumber, "flow_id", val, err)
			}
			ev.flowID, ev.haveFlowID = n, true
		case kTimestamp:
			ev.timestamp = val
		case kSrcIP, kDestIP:
			if kind != jscan.String {
				return p.lineErr(logline.KindAddr, string(key), val, errNotString)
			}
			a, err := logline.ParseAddr(val)
			if err != nil {
				return p.lineErr(logline.KindAddr, string(key), val, err)
			}
			if code == kSrcIP {
				ev.srcIP = a
			} else {
				ev.destIP = a
			}
		case kSrcPort, kDestPort, kICMPType, kICMPCode:
			n, err := jscan.ParseUint16(val)
			if err != nil || kind != jscan.Number {
				if err == nil {
					err = errNotNumber
				}
				return p.lineErr(logline.KindNumber, string(key), val, err)
			}
			switch code {
			case kSrcPort:
				ev.srcPort = n
			case kDestPort:
				ev.destPort = n
			case kICMPType:
				ev.icmpType, ev.haveICMP = n, true
			default:
				ev.icmpCode = n
			}
		case kProto:
			ev.proto = val
		case kAppProto:
			ev.appProto = val
		case kCommunityID:
			ev.communityID = val
		case kVLAN:
			if kind == jscan.Array {
				i := 0
				_ = jscan.ArrayEach(val, func(k jscan.Kind, v []byte) error {
					n, err := jscan.ParseUint16(v)
					if err == nil {
						if i == 0 {
							ev.vlan = n
						} else if i == 1 {
							ev.innerVLAN = n
						}
					}
					i++
					return nil
				})
			}
		case kFlow, kNetflow, kTCP:
			if kind != jscan.Object {
				return p.lineErr(logline.KindJSON, string(key), val, errNotObject)
			}
			if err := p.scanObject(code, val); err != nil {
				return err
			}
		}
	}
}

// scanObject reads the nested flow, netflow or tcp object.
func (p *Parser) scanObject(which uint8, obj []byte) error {
	ev := &p.ev
	it := &p.sub
	if err := p.it.Enter(it); err != nil {
		return p.lineErr(logline.KindJSON, "", obj, err)
	}
	o, lookup := &p.flowKeys, flowKey
	switch which {
	case kFlow:
		ev.haveFlowObj = true
	case kNetflow:
		ev.haveNet = true
		o, lookup = &p.netKeys, netflowKey
	default:
		o, lookup = &p.tcpKeys, tcpKey
	}
	o.Start()
	for {
		key, _, code, kind, val, err := o.Next(it, lookup)
		if err != nil {
			if errors.Is(err, jscan.ErrEnd) {
				return nil
			}
			return p.lineErr(logline.KindJSON, "", obj, err)
		}
		var num *uint64
		var bit uint8
		switch code {
		case kOther:
			continue
		case kPktsTS:
			num = &ev.pktsTS
		case kPktsTC:
			num = &ev.pktsTC
		case kBytesTS:
			num = &ev.bytesTS
		case kBytesTC:
			num = &ev.bytesTC
		case kPkts:
			num = &ev.netPkts
			ev.haveNetflowCounters = true
		case kBytes:
			num = &ev.netBytes
		case kStart:
			ev.start = val
		case kEnd:
			ev.end = val
		case kState:
			ev.state = val
		case kTCPFlags, kTCPFlagsTS, kTCPFlagsTC:
			f, ok := parseHex8(val)
			if !ok {
				return p.lineErr(logline.KindNumber, "tcp."+string(key), val, errHexFlags)
			}
			switch code {
			case kTCPFlags:
				ev.flags, ev.haveFlags = f, true
			case kTCPFlagsTS:
				ev.haveDirFlags = true
				ev.flagsTS = f
			default:
				ev.haveDirFlags = true
				ev.flagsTC = f
			}
		case kSYN:
			bit = tcpSYN
		case kFIN:
			bit = tcpFIN
		case kRST:
			bit = tcpRST
		case kPSH:
			bit = tcpPSH
		case kACK:
			bit = tcpACK
		}
		if bit != 0 && kind == jscan.True {
			ev.tcpBools |= bit
		}
		if num != nil {
			if kind != jscan.Number {
				return p.lineErr(logline.KindNumber, string(key), val, errNotNumber)
			}
			n, err := jscan.ParseUint(val)
			if err != nil {
				return p.lineErr(logline.KindNumber, string(key), val, err)
			}
			*num = n
		}
	}
}
