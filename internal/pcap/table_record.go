package pcap

import (
	"net/netip"
	"time"

	"github.com/mlads/mlads/internal/flow"
)

func addrOf(b [16]byte, v6 bool) netip.Addr {
	a := netip.AddrFrom16(b)
	if !v6 {
		return a.Unmap()
	}
	return a
}

// fillRecord writes f into the table's reusable record.
func (t *Table) fillRecord(f *conn) {
	r := &t.rec
	origAddr, respAddr := f.key.loAddr, f.key.hiAddr
	if !f.origLo {
		origAddr, respAddr = respAddr, origAddr
	}
	*r = flow.Record{
		TS:       time.Unix(0, f.first).UTC(),
		UID:      t.uids.format(f.uid),
		OrigH:    addrOf(origAddr, f.v6),
		OrigP:    f.origPort,
		RespH:    addrOf(respAddr, f.v6),
		RespP:    f.respPort,
		IPProto:  f.proto,
		Duration: time.Duration(f.last - f.first),
		VLAN:     f.vlan,
		Source:   t.cfg.Source,
	}
	r.InnerVLAN = f.inner
	switch f.proto {
	case ipProtoTCP:
		r.Proto = flow.ProtoTCP
	case ipProtoUDP:
		r.Proto = flow.ProtoUDP
	case ipProtoICMP, ipProtoICMPv6:
		r.Proto = flow.ProtoICMP
	default:
		r.Proto = flow.ProtoUnknown
	}
	r.OrigPkts, r.OrigIPBytes = f.orig.pkts, f.orig.ipBytes
	r.RespPkts, r.RespIPBytes = f.resp.pkts, f.resp.ipBytes

	switch f.proto {
	case ipProtoTCP:
		c := f.tcp
		r.OrigBytes = c.origSize()
		r.RespBytes = c.respSize()
		r.MissedBytes = c.missed
		r.ConnState = c.connState(f)
	case ipProtoUDP:
		r.OrigBytes = uint64(max(f.orig.size, 0))
		r.RespBytes = uint64(max(f.resp.size, 0))
		switch {
		case f.orig.size >= 0 && f.resp.size >= 0:
			r.ConnState = "SF"
		case f.orig.size >= 0:
			r.ConnState = "S0"
		case f.resp.size >= 0:
			r.ConnState = "SHR"
		default:
			r.ConnState = "OTH"
		}
	default:
		r.OrigBytes = uint64(max(f.orig.size, 0))
		r.RespBytes = uint64(max(f.resp.size, 0))
		r.ConnState = "OTH"
	}
	if int(f.histLen) > len(f.hist) {
		t.stats.HistCut++
		r.History = t.intern(f.hist[:])
	} else if f.histLen > 0 {
		r.History = t.intern(f.hist[:f.histLen])
	}
	t.finishService(f)
	if f.nsvc > 0 {
		t.svcBuf = t.svcBuf[:0]
		for i := 0; i < int(f.nsvc); i++ {
			if i > 0 {
				t.svcBuf = append(t.svcBuf, ',')
			}
			t.svcBuf = append(t.svcBuf, serviceNames[f.svc[i]]...)
		}
		r.Service = t.intern(t.svcBuf)
	}
	if f.nparent > 0 {
		t.parents = t.parents[:0]
		for i := 0; i < int(f.nparent); i++ {
			t.parents = append(t.parents, t.uids.format(f.parents[i]))
		}
		r.TunnelParents = t.parents
	}
	r.CommunityID = communityID(r, f.icmpCode)
}

// maxInterned bounds the interned strings.
const maxInterned = 4096

// intern returns b as a string, sharing the strings of the common history
// and service values so most records allocate nothing for them.
func (t *Table) intern(b []byte) string {
	if s, ok := t.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(t.strs) < maxInterned {
		t.strs[s] = s
	}
	return s
}
