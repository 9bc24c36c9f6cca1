package zeek

import "github.com/mlads/mlads/internal/flow"

// fillCommunityID computes r.CommunityID (Community ID v1, seed 0) when the
// log carried none and the parser computes them. It allocates nothing: the
// hash is written to a scratch buffer and copied into the string chunks.
func (p *Parser) fillCommunityID(r *flow.Record) {
	if r.CommunityID != "" || !p.ComputeCommunityID {
		return
	}
	p.cid = AppendCommunityID(p.cid[:0], r)
	r.CommunityID = p.strs.Copy(p.cid)
}

// AppendCommunityID appends the Community ID v1 (seed 0) of r's addresses,
// ports and IP protocol to b, or nothing when r has no known IP protocol or
// no valid address pair. Shared with the eve package.
func AppendCommunityID(b []byte, r *flow.Record) []byte {
	proto := r.IPProtocol()
	if proto == 0 {
		return b
	}
	return flow.AppendCommunityID(b, 0, r.OrigH, r.RespH, proto, r.OrigP, r.RespP)
}
