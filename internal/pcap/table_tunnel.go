package pcap

import (
	"bytes"

	"github.com/mlads/mlads/internal/flow"
)

// maxTunnels bounds the GRE/IP-in-IP tunnel ids held at once.
const maxTunnels = 65536

// tunnelKey is the unordered pair of outer addresses of an IP tunnel.
type tunnelKey struct{ a, b [16]byte }

type tunnelEntry struct {
	uid  uint64
	last int64
}

// TunnelRef returns the tunnel id Zeek would give packets carried between
// the outer addresses src and dst by GRE or IP-in-IP: one id per address
// pair, kept while the tunnel is active (ip_tunnel_timeout). Such tunnels
// are not connections of their own, so the id appears only in the inner
// connections' tunnel_parents.
func (t *Table) TunnelRef(src, dst [16]byte, ts int64) FlowRef {
	k := tunnelKey{src, dst}
	if bytes.Compare(src[:], dst[:]) > 0 {
		k = tunnelKey{dst, src}
	}
	if e, ok := t.tunnels[k]; ok && ts-e.last < int64(t.cfg.TunnelTimeout) {
		e.last = max(e.last, ts)
		t.tunnels[k] = e
		return FlowRef{uid: e.uid}
	}
	if len(t.tunnels) >= maxTunnels {
		for kk, e := range t.tunnels {
			if ts-e.last >= int64(t.cfg.TunnelTimeout) {
				delete(t.tunnels, kk)
			}
		}
		if len(t.tunnels) >= maxTunnels {
			t.stats.TunDrops++
			return FlowRef{uid: t.uids.next()}
		}
	}
	e := tunnelEntry{uid: t.uids.next(), last: ts}
	t.tunnels[k] = e
	return FlowRef{uid: e.uid}
}

// communityID computes the record's Community ID; ICMP needs the message
// code, which the record's resp_p does not always hold.
func communityID(r *flow.Record, icmpCode uint16) string {
	switch r.IPProto {
	case ipProtoICMP, ipProtoICMPv6:
		return flow.CommunityID(0, r.OrigH, r.RespH, r.IPProto, r.OrigP, icmpCode)
	}
	return flow.CommunityID(0, r.OrigH, r.RespH, r.IPProto, r.OrigP, r.RespP)
}
