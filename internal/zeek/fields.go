package zeek

// field is what a column holds.
type field uint8

const (
	fIgnore field = iota
	fTS
	fUID
	fOrigH
	fOrigP
	fRespH
	fRespP
	fProto
	fService
	fDuration
	fOrigBytes
	fRespBytes
	fConnState
	fMissedBytes
	fHistory
	fOrigPkts
	fOrigIPBytes
	fRespPkts
	fRespIPBytes
	fTunnelParents
	fIPProto
	fCommunityID
	fVLAN
	fInnerVLAN
	fLabel
	fDetailedLabel
	nFields
)

var fieldByName = map[string]field{
	"ts":             fTS,
	"uid":            fUID,
	"id.orig_h":      fOrigH,
	"id.orig_p":      fOrigP,
	"id.resp_h":      fRespH,
	"id.resp_p":      fRespP,
	"proto":          fProto,
	"service":        fService,
	"duration":       fDuration,
	"orig_bytes":     fOrigBytes,
	"resp_bytes":     fRespBytes,
	"conn_state":     fConnState,
	"missed_bytes":   fMissedBytes,
	"history":        fHistory,
	"orig_pkts":      fOrigPkts,
	"orig_ip_bytes":  fOrigIPBytes,
	"resp_pkts":      fRespPkts,
	"resp_ip_bytes":  fRespIPBytes,
	"tunnel_parents": fTunnelParents,
	"ip_proto":       fIPProto,
	"community_id":   fCommunityID,
	"vlan":           fVLAN,
	"inner_vlan":     fInnerVLAN,
	"label":          fLabel,
	"detailedlabel":  fDetailedLabel,
	"detailed-label": fDetailedLabel,
	"detailed_label": fDetailedLabel,
}

// Other columns Zeek writes in conn.log: known, so a header row made of them
// is recognised, but not stored.
var knownIgnored = map[string]bool{
	"local_orig": true, "local_resp": true, "orig_l2_addr": true, "resp_l2_addr": true,
	"speculative_service": true, "orig_cc": true, "resp_cc": true, "app": true,
	"_path": true, "_write_ts": true, "_node": true, "_system_name": true,
}

var fieldNames [nFields]string

func init() {
	for name, f := range fieldByName {
		if fieldNames[f] == "" || len(name) < len(fieldNames[f]) {
			fieldNames[f] = name
		}
	}
}

func (f field) String() string { return fieldNames[f] }

// lookupField is fieldByName as a switch, which the compiler turns into a
// length-then-bytes search that beats a map lookup on the per-key JSON path.
func lookupField(k []byte) field {
	switch string(k) {
	case "ts":
		return fTS
	case "uid":
		return fUID
	case "id.orig_h":
		return fOrigH
	case "id.orig_p":
		return fOrigP
	case "id.resp_h":
		return fRespH
	case "id.resp_p":
		return fRespP
	case "proto":
		return fProto
	case "service":
		return fService
	case "duration":
		return fDuration
	case "orig_bytes":
		return fOrigBytes
	case "resp_bytes":
		return fRespBytes
	case "conn_state":
		return fConnState
	case "missed_bytes":
		return fMissedBytes
	case "history":
		return fHistory
	case "orig_pkts":
		return fOrigPkts
	case "orig_ip_bytes":
		return fOrigIPBytes
	case "resp_pkts":
		return fRespPkts
	case "resp_ip_bytes":
		return fRespIPBytes
	case "tunnel_parents":
		return fTunnelParents
	case "ip_proto":
		return fIPProto
	case "community_id":
		return fCommunityID
	case "vlan":
		return fVLAN
	case "inner_vlan":
		return fInnerVLAN
	case "label":
		return fLabel
	case "detailedlabel", "detailed-label", "detailed_label":
		return fDetailedLabel
	}
	return fIgnore
}
