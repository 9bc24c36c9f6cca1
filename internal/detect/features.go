package detect

import (
	"math"
	"net/netip"

	"github.com/mlads/mlads/internal/flow"
)

// The numeric features of a flow, in the order of Vector.X. Most are
// log1p-scaled natural units (see numericLog); the host features come from
// the originator's damped statistics at the time the flow was seen, and the
// "known" features from how often the baseline saw the entity before.
const (
	fDuration = iota
	fOrigBytes
	fRespBytes
	fOrigPkts
	fRespPkts
	fOrigIPBytes
	fRespIPBytes
	fMissedBytes
	fOrigBPP
	fRespBPP
	fByteRatio
	fHostRate
	fHostFail
	fHostDsts
	fHostPorts
	fHostNewDst
	fHostBytesOut
	fPairFlows
	fOrigKnown
	fRespKnown
	fServiceKnown
	// NumNumeric is the number of numeric features.
	NumNumeric
)

// numericNames are the names used in explanations (Zeek's where they exist).
var numericNames = [NumNumeric]string{
	"duration", "orig_bytes", "resp_bytes", "orig_pkts", "resp_pkts",
	"orig_ip_bytes", "resp_ip_bytes", "missed_bytes",
	"orig_bytes_per_pkt", "resp_bytes_per_pkt", "orig_byte_ratio",
	"host_flow_rate", "host_failure_rate", "host_distinct_destinations", "host_distinct_ports",
	"host_new_destination_rate", "host_bytes_out_rate", "pair_flows_in_window",
	"orig_host_seen", "resp_host_seen", "resp_service_seen",
}

// numericLog says which features are log1p of a natural value (explanations
// convert them back).
var numericLog = [NumNumeric]bool{
	true, true, true, true, true, true, true, true, true, true, false,
	true, false, true, true, false, true, true, true, true, true,
}

// numericUnit names the natural unit of each feature for explanations.
var numericUnit = [NumNumeric]string{
	"s", "B", "B", "pkts", "pkts", "B", "B", "B", "B/pkt", "B/pkt", "",
	"flows", "", "hosts", "ports", "", "B", "flows", "flows", "flows", "flows",
}

// The categorical features of a flow, in the order of Vector.C.
const (
	cProto = iota
	cService
	cConnState
	cPortClass
	cDirection
	cHistory
	// NumCategorical is the number of categorical features.
	NumCategorical
)

var categoricalNames = [NumCategorical]string{"proto", "service", "conn_state", "port_class", "direction", "history"}

// Reserved category ids: 0 is "empty" (unset in the flow), 1 is "unseen"
// (not in the model's vocabulary, or beyond its cap).
const (
	catEmpty  = 0
	catUnseen = 1
)

// vocabCap bounds each categorical vocabulary; values beyond it share the
// "unseen" id.
const vocabCap = 1024

// Directions, relative to the local network (private addresses plus the
// busiest originators of the baseline).
const (
	dirOut      = "out"
	dirIn       = "in"
	dirInternal = "internal"
	dirExternal = "external"
)

// groupKey identifies a traffic group: proto × service-or-port-class ×
// direction. sp is the service id, or portClassBase+port class id when the
// flow has no service; anyGroup stands for "all" in coarser levels.
type groupKey struct {
	Proto uint16
	SP    uint16
	Dir   uint16
}

const (
	portClassBase = 0x8000
	anyGroup      = 0xFFFF
)

// Vector is one flow's features. X holds the scaled numeric features, Raw
// the same in natural units (for explanations), C the categorical ids.
type Vector struct {
	X     [NumNumeric]float64
	Raw   [NumNumeric]float64
	C     [NumCategorical]uint16
	Group groupKey
	// Carries says which of its host's statistics the flow is an
	// instance of (see hostFeatures).
	Carries Carry
}

// Carry says which of its host's statistics (hostFeatures) a flow
// carries, that is, is scored with as they are; the others are set to
// its group's medians.
type Carry uint8

const (
	// CarryNone is a successful flow to a destination its host and the
	// baseline knew. It carries none of them.
	CarryNone Carry = iota
	// CarryNew is a successful flow to a destination its host never
	// contacted before or that the baseline never saw. It is part of the
	// host's fan-out, rate and volume, not of its failures: it carries
	// all but the failure rate.
	CarryNew
	// CarryAll is a failed flow. It carries all of them.
	CarryAll
)

// hostFeatures are the originator's statistics. They are evidence about
// the flows that make them up: the failed ones and the ones that reach
// somewhere new, to the host or to the baseline. A flow that carries neither (Vector.Carries) is scored
// with them at its group's medians, on its own merits: the successful NTP
// poll of a host that is also scanning no longer inherits the scan's
// failure rate, fan-out, flow rate and volume, while the scan's own
// flows, which fail or reach new destinations, keep them. A successful
// flow to somewhere new carries all but the failure rate (CarryNew): the
// first poll of a new pool server is part of its host's fan-out, not of
// the scan's failures. Calibration
// scores its flows the same way, so p-values stay uniform on clean
// traffic.
var hostFeatures = [...]int{fHostRate, fHostFail, fHostDsts, fHostPorts, fHostNewDst, fHostBytesOut}

// vocab maps strings of one categorical feature to small ids.
type vocab struct {
	Names []string // index = id; 0 and 1 are reserved
	ids   map[string]uint16
}

func newVocab() *vocab {
	return &vocab{Names: []string{"", "(unseen)"}, ids: map[string]uint16{}}
}

func (v *vocab) index() {
	v.ids = make(map[string]uint16, len(v.Names))
	for i, n := range v.Names {
		if i >= 2 {
			v.ids[n] = uint16(i)
		}
	}
}

// id returns s's id, adding it when grow is set and the cap allows.
func (v *vocab) id(s string, grow bool) uint16 {
	if s == "" || s == "-" {
		return catEmpty
	}
	if id, ok := v.ids[s]; ok {
		return id
	}
	if !grow || len(v.Names) >= vocabCap {
		return catUnseen
	}
	id := uint16(len(v.Names))
	v.Names = append(v.Names, s)
	v.ids[s] = id
	return id
}

// portClass names the class of a responder port: a well-known service
// family, or the IANA range. ICMP flows are classed by type.
func portClass(proto string, origP, respP uint16) string {
	if proto == flow.ProtoICMP {
		switch origP {
		case 8, 0, 128, 129:
			return "icmp_echo"
		case 3, 1:
			return "icmp_unreachable"
		case 11:
			return "icmp_time_exceeded"
		}
		return "icmp_other"
	}
	switch respP {
	case 80, 443, 8080, 8443, 8000, 8008, 8888:
		return "web"
	case 53, 853, 5353, 5355:
		return "dns"
	case 25, 465, 587, 110, 995, 143, 993:
		return "mail"
	case 22:
		return "ssh"
	case 23, 2323:
		return "telnet"
	case 20, 21, 69:
		return "ftp"
	case 3389, 5900, 5901:
		return "remote_desktop"
	case 135, 137, 138, 139, 445:
		return "windows"
	case 123:
		return "ntp"
	case 67, 68, 546, 547:
		return "dhcp"
	case 161, 162:
		return "snmp"
	case 88, 389, 636, 3268:
		return "directory"
	case 1433, 1521, 3306, 5432, 6379, 27017, 9200:
		return "database"
	case 500, 4500, 1194, 1701, 1723, 51820:
		return "vpn"
	case 5060, 5061:
		return "sip"
	case 1900:
		return "ssdp"
	case 6667, 6668, 6669, 6697:
		return "irc"
	case 0:
		return "zero"
	}
	switch {
	case respP < 1024:
		return "system"
	case respP < 49152:
		return "registered"
	}
	return "dynamic"
}

// isLocal reports whether an address is private, loopback, link-local or
// unique-local (the "inside" of a network with no other knowledge).
func isLocal(a netip.Addr) bool {
	return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()
}

// direction classes a flow by where its ends are.
func direction(origLocal, respLocal bool) string {
	switch {
	case origLocal && !respLocal:
		return dirOut
	case !origLocal && respLocal:
		return dirIn
	case origLocal && respLocal:
		return dirInternal
	}
	return dirExternal
}

// failed reports whether a flow's state says the connection was refused,
// unanswered or torn down before it carried anything.
func failed(r *flow.Record) bool {
	switch r.ConnState {
	case "S0", "REJ", "RSTOS0", "RSTRH", "SH", "SHR", "OTH":
		return true
	}
	return false
}

func log1p(x float64) float64 { return math.Log1p(x) }

// flowNumerics fills the per-flow part of x and raw (not the host and known
// features).
func flowNumerics(r *flow.Record, x, raw *[NumNumeric]float64) {
	dur := r.Duration.Seconds()
	if dur < 0 {
		dur = 0
	}
	raw[fDuration] = dur
	raw[fOrigBytes] = float64(r.OrigBytes)
	raw[fRespBytes] = float64(r.RespBytes)
	raw[fOrigPkts] = float64(r.OrigPkts)
	raw[fRespPkts] = float64(r.RespPkts)
	raw[fOrigIPBytes] = float64(r.OrigIPBytes)
	raw[fRespIPBytes] = float64(r.RespIPBytes)
	raw[fMissedBytes] = float64(r.MissedBytes)
	raw[fOrigBPP] = 0
	if r.OrigPkts > 0 {
		raw[fOrigBPP] = float64(r.OrigIPBytes) / float64(r.OrigPkts)
	}
	raw[fRespBPP] = 0
	if r.RespPkts > 0 {
		raw[fRespBPP] = float64(r.RespIPBytes) / float64(r.RespPkts)
	}
	tot := float64(r.OrigIPBytes) + float64(r.RespIPBytes)
	raw[fByteRatio] = 1
	if tot > 0 {
		raw[fByteRatio] = float64(r.OrigIPBytes) / tot
	}
	for i := fDuration; i <= fByteRatio; i++ {
		if numericLog[i] {
			x[i] = log1p(raw[i])
		} else {
			x[i] = raw[i]
		}
	}
}
