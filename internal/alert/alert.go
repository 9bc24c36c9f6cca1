// Package alert turns what the detectors found into alert documents in the
// Elastic Common Schema (ECS), gives each a content-derived ID so a retried
// write never duplicates it, and folds repeats of the same host and
// detector into incidents.
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
)

// Alert is one ECS document. Its JSON encoding nests the dotted ECS names
// (event.kind is {"event":{"kind":...}}), as Elasticsearch stores them;
// mlads's own fields live under "mlads".
type Alert struct {
	Timestamp   time.Time `json:"@timestamp"`
	Message     string    `json:"message"`
	Event       Event     `json:"event"`
	Rule        Rule      `json:"rule"`
	Source      *Endpoint `json:"source,omitempty"`
	Destination *Endpoint `json:"destination,omitempty"`
	Network     *Network  `json:"network,omitempty"`
	Related     Related   `json:"related"`
	Observer    Observer  `json:"observer"`
	MLADS       MLADS     `json:"mlads"`
}

// Event is ECS event.*.
type Event struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`     // always "alert"
	Category  []string  `json:"category"` // network, intrusion_detection
	Type      []string  `json:"type"`     // info
	Severity  int       `json:"severity"` // 1 low, 2 medium, 3 high, 4 critical
	RiskScore float64   `json:"risk_score"`
	Reason    string    `json:"reason,omitempty"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Duration  int64     `json:"duration"` // nanoseconds, as ECS
	Dataset   string    `json:"dataset"`  // mlads.alert
	Module    string    `json:"module"`   // mlads
}

// Rule is ECS rule.*: the detector that raised the alert.
type Rule struct {
	ID          string `json:"id"`       // "mlads.behavior.horizontal_scan", "mlads.flow.anomaly"
	Name        string `json:"name"`     // the detector: "horizontal_scan", "flow_anomaly"
	Category    string `json:"category"` // "behavior" or "flow"
	Description string `json:"description"`
	Ruleset     string `json:"ruleset"` // mlads
}

// Endpoint is ECS source.* or destination.*.
type Endpoint struct {
	IP      string `json:"ip,omitempty"`
	Port    int    `json:"port,omitempty"`
	Bytes   uint64 `json:"bytes,omitempty"`
	Packets uint64 `json:"packets,omitempty"`
}

// InPrefixes reports whether the endpoint's IP is in one of ps (an
// IPv4-mapped address counts as IPv4). A nil endpoint or one without an
// IP is in none.
func (e *Endpoint) InPrefixes(ps []netip.Prefix) bool {
	if e == nil || e.IP == "" {
		return false
	}
	ip, err := netip.ParseAddr(e.IP)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Network is ECS network.*.
type Network struct {
	Transport   string `json:"transport,omitempty"` // tcp, udp, icmp
	Protocol    string `json:"protocol,omitempty"`  // the service ("dns", "ssl,http")
	CommunityID string `json:"community_id,omitempty"`
	IANANumber  string `json:"iana_number,omitempty"`
	Bytes       uint64 `json:"bytes,omitempty"`
	Packets     uint64 `json:"packets,omitempty"`
	VLAN        *VLAN  `json:"vlan,omitempty"`
}

// VLAN is ECS network.vlan.
type VLAN struct {
	ID string `json:"id"`
}

// Related is ECS related.*: every IP of the alert, for pivoting.
type Related struct {
	IP []string `json:"ip,omitempty"`
}

// Observer is ECS observer.*: the sensor that saw the traffic.
type Observer struct {
	Name    string `json:"name,omitempty"`
	Type    string `json:"type"`    // ids
	Vendor  string `json:"vendor"`  // mlads
	Product string `json:"product"` // mlads
}

// MLADS holds mlads's scores and explanation.
type MLADS struct {
	Detector string    `json:"detector"`
	Host     string    `json:"host"`  // the host incidents are kept for: originator, scanner, beaconing client, flood victim
	Score    float64   `json:"score"` // -log10 p_value
	PValue   float64   `json:"p_value"`
	Severity string    `json:"severity"` // low, medium, high, critical
	Summary  string    `json:"summary"`
	Hits     []Hit     `json:"hits,omitempty"`
	Features []Feature `json:"features,omitempty"`
	// Evidence is the behavioural detector's own numbers (ports tried,
	// interval regularity, ...).
	Evidence  map[string]any `json:"evidence,omitempty"`
	Behaviors []Behavior     `json:"behaviors,omitempty"`
	FlowUIDs  []string       `json:"flow_uids,omitempty"`
	Source    string         `json:"source,omitempty"` // where the flow came from: pcap, live, zeek, eve
	Incident  *Incident      `json:"incident,omitempty"`
	// SuppressedBy names the allow or suppress rule (rules/) that matched:
	// the alert is recorded but not notified.
	SuppressedBy string `json:"suppressed_by,omitempty"`
	// SeverityOverrideBy names the rule that set the severity.
	SeverityOverrideBy string `json:"severity_override_by,omitempty"`
}

// Hit is one per-flow detector's result.
type Hit struct {
	Detector string  `json:"detector"`
	PValue   float64 `json:"p_value"`
	Fired    bool    `json:"fired"`
}

// Feature is one explained feature: the value seen against its baseline.
type Feature struct {
	Name        string  `json:"name"`
	Value       float64 `json:"value"`
	Median      float64 `json:"median"`
	Spread      float64 `json:"spread"`
	Z           float64 `json:"z"`
	Text        string  `json:"text,omitempty"`
	Categorical bool    `json:"categorical,omitempty"`
}

// Behavior is a behavioural finding a flow is part of.
type Behavior struct {
	Detector string         `json:"detector"`
	Host     string         `json:"host"`
	Peer     string         `json:"peer,omitempty"`
	Start    time.Time      `json:"start"`
	End      time.Time      `json:"end"`
	PValue   float64        `json:"p_value"`
	Summary  string         `json:"summary"`
	Evidence map[string]any `json:"evidence,omitempty"`
	FlowUIDs []string       `json:"flow_uids,omitempty"`
}

// Incident says how many alerts of the same host and detector this
// document stands for.
type Incident struct {
	ID        string    `json:"id"` // the first alert's ID, and this document's
	Count     int       `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Names of the rules and their categories.
const (
	FlowAnomaly  = "flow_anomaly"
	ruleset      = "mlads"
	categoryFlow = "flow"
	categoryBeh  = "behavior"
)

// flowDoc is a flow alert with the parts every flow alert has, allocated
// as one object: a flow alert costs a handful of allocations, not forty,
// and analyze makes one for every other flow of some captures.
type flowDoc struct {
	a        Alert
	src, dst Endpoint
	net      Network
	kinds    [3]string // Event.Category, then Event.Type
	related  [2]string
	uid      [1]string
	hits     [flowHits]Hit
}

// flowHits is the number of per-flow detectors (detect's), the hits a
// flowDoc holds without an allocation of their own.
const flowHits = 5

// FromFlow builds the alert for a flow the per-flow layer scored as
// anomalous. r and v are read, not retained.
func FromFlow(r *flow.Record, v *detect.Verdict, observer string) *Alert {
	fd := &flowDoc{}
	a := &fd.a
	initAlert(a, &fd.kinds, observer)
	a.Timestamp = r.TS.UTC()
	a.Event.Start, a.Event.End = r.TS.UTC(), r.End().UTC()
	a.Event.Duration = int64(r.Duration)
	a.Rule = Rule{
		ID: "mlads." + categoryFlow + ".anomaly", Name: FlowAnomaly, Category: categoryFlow, Ruleset: ruleset,
		Description: "A flow unlike the learned normal traffic of its group",
	}
	orig, resp := addr(r.OrigH), addr(r.RespH)
	fd.src = Endpoint{IP: orig, Port: int(r.OrigP), Bytes: r.OrigIPBytes, Packets: r.OrigPkts}
	fd.dst = Endpoint{IP: resp, Port: int(r.RespP), Bytes: r.RespIPBytes, Packets: r.RespPkts}
	a.Source, a.Destination = &fd.src, &fd.dst
	fd.net = Network{
		Transport: r.Proto, Protocol: r.Service, CommunityID: r.CommunityIDOrDerived(),
		Bytes: r.OrigIPBytes + r.RespIPBytes, Packets: r.OrigPkts + r.RespPkts,
	}
	a.Network = &fd.net
	if r.IPProto != 0 {
		a.Network.IANANumber = strconv.Itoa(int(r.IPProto))
	}
	if r.VLAN != 0 {
		a.Network.VLAN = &VLAN{ID: strconv.Itoa(int(r.VLAN))}
	}
	a.Related.IP = relatedPair(&fd.related, orig, resp)

	m := &a.MLADS
	m.Detector, m.Host = FlowAnomaly, orig
	m.PValue, m.Score = v.PValue, v.Score
	m.Source = r.Source.String()
	if r.UID != "" {
		fd.uid[0] = r.UID
		m.FlowUIDs = fd.uid[:]
	}
	if len(v.Hits) <= flowHits {
		m.Hits = fd.hits[:0:len(v.Hits)]
	}
	for _, h := range v.Hits {
		m.Hits = append(m.Hits, Hit{Detector: h.Detector, PValue: h.PValue, Fired: h.Fired})
	}
	if len(v.Features) > 0 {
		m.Features = make([]Feature, 0, len(v.Features))
	}
	for _, f := range v.Features {
		m.Features = append(m.Features, Feature{
			Name: f.Name, Value: f.Value, Median: f.Median, Spread: f.Spread, Z: f.Z, Text: f.Text, Categorical: f.Category,
		})
	}
	for i := range v.Behaviors {
		b := &v.Behaviors[i]
		m.Behaviors = append(m.Behaviors, Behavior{
			Detector: b.Detector, Host: b.Host, Peer: b.Peer, Start: b.Start.UTC(), End: b.End.UTC(),
			PValue: b.PValue, Summary: b.Summary, Evidence: b.Evidence, FlowUIDs: slices.Clone(b.UIDs),
		})
	}
	// "tcp 10.0.0.1:51000 → 192.0.2.9:443: <why> (<fired detectors>)"
	var buf [256]byte
	sum := append(buf[:0], r.Proto...)
	sum = append(sum, ' ')
	sum = strconv.AppendUint(append(append(sum, orig...), ':'), uint64(r.OrigP), 10)
	sum = append(sum, " → "...)
	sum = strconv.AppendUint(append(append(sum, resp...), ':'), uint64(r.RespP), 10)
	sum = append(sum, ": "...)
	if len(v.Features) > 0 && v.Features[0].Text != "" {
		sum = append(sum, v.Features[0].Text...)
	} else {
		sum = append(sum, "unusual flow"...)
	}
	fired := 0
	for _, h := range v.Hits {
		if !h.Fired {
			continue
		}
		if fired == 0 {
			sum = append(sum, " ("...)
		} else {
			sum = append(sum, ", "...)
		}
		sum = append(sum, h.Detector...)
		fired++
	}
	if fired > 0 {
		sum = append(sum, ')')
	}
	m.Summary = string(sum)
	a.finish()
	return a
}

// FromFinding builds the alert for a behavioural finding. For floods the
// destination is the victim (Finding.Host) and the source its top
// source; otherwise the source is the acting host and the destination its
// peer, when there is one. f is read, not retained.
func FromFinding(f *detect.Finding, observer string) *Alert {
	a := newAlert(observer)
	a.Timestamp = f.Start.UTC()
	a.Event.Start, a.Event.End = f.Start.UTC(), f.End.UTC()
	a.Event.Duration = int64(f.End.Sub(f.Start))
	a.Rule = Rule{
		ID: "mlads." + categoryBeh + "." + f.Detector, Name: f.Detector, Category: categoryBeh, Ruleset: ruleset,
		Description: ruleDescriptions[f.Detector],
	}
	port, _ := f.Evidence["port"].(int)
	transport, _ := f.Evidence["proto"].(string)
	src, dst := &Endpoint{IP: f.Host}, &Endpoint{IP: f.Peer, Port: port}
	if behavior.IsFlood(f.Detector) {
		src, dst = &Endpoint{IP: f.Peer}, &Endpoint{IP: f.Host}
	}
	if src.IP != "" {
		a.Source = src
	}
	if dst.IP != "" || dst.Port != 0 {
		a.Destination = dst
	}
	if transport != "" {
		a.Network = &Network{Transport: transport}
	}
	var ips []string
	if a.Source != nil {
		ips = append(ips, a.Source.IP)
	}
	if a.Destination != nil {
		ips = append(ips, a.Destination.IP)
	}
	a.Related.IP = related(ips...)

	m := &a.MLADS
	m.Detector, m.Host = f.Detector, f.Host
	m.PValue, m.Score = f.PValue, f.Score
	m.Summary = f.Summary
	m.Evidence = f.Evidence
	m.FlowUIDs = slices.Clone(f.UIDs)
	a.finish()
	return a
}

var ruleDescriptions = map[string]string{
	"horizontal_scan":  "One source probed many hosts on the same port within a window (Zeek scan.zeek)",
	"vertical_scan":    "One source probed many ports of one host within a window (Zeek scan.zeek)",
	"trw_scan":         "A source's first contacts failed too often (threshold random walk, Jung et al. 2004)",
	"syn_flood":        "A host received a surge of TCP SYNs it never completed",
	"half_open_surge":  "A host received a surge of half-open TCP connections",
	"udp_flood":        "A host received a surge of unanswered UDP or ICMP flows",
	"beacon":           "Connections between two hosts at regular intervals and sizes (RITA)",
	"long_connection":  "A connection that lasted unusually long",
	"reconnect":        "A host kept failing to connect to the same server and port (Slips: multiple reconnection attempts)",
	"fan_out":          "A host contacted far more destinations than it usually does",
	"volume":           "A host sent far more bytes than it usually does",
	"new_destinations": "A host contacted far more new destinations than it usually does",
}

func newAlert(observer string) *Alert {
	a := &Alert{}
	initAlert(a, new([3]string), observer)
	return a
}

// initAlert sets what every alert has; kinds holds the event's category
// and type.
func initAlert(a *Alert, kinds *[3]string, observer string) {
	*kinds = [3]string{"network", "intrusion_detection", "info"}
	a.Event = Event{Kind: "alert", Category: kinds[0:2:2], Type: kinds[2:3:3], Dataset: "mlads.alert", Module: "mlads"}
	a.Observer = Observer{Name: observer, Type: "ids", Vendor: "mlads", Product: "mlads"}
}

// finish derives severity, message and ID once the content is set.
func (a *Alert) finish() {
	m := &a.MLADS
	if m.PValue > 0 && m.Score == 0 {
		m.Score = -math.Log10(m.PValue)
	}
	a.Event.RiskScore = riskScore(m.Score)
	a.Event.Severity, m.Severity = severity(a.Event.RiskScore)
	a.Event.Reason = m.Summary
	a.Message = m.Summary
	a.Event.ID = a.contentID()
}

// riskScore maps the significance to ECS's 0-100 risk score: ten points
// per decade of p-value, so p = 1e-3 is 30 and p ≤ 1e-10 is 100.
func riskScore(score float64) float64 {
	if math.IsNaN(score) || score < 0 {
		return 0
	}
	return math.Min(100, math.Round(10*score*10)/10)
}

// SeverityName returns the name of severity n (1 low to 4 critical).
func SeverityName(n int) string {
	switch n {
	case 4:
		return "critical"
	case 3:
		return "high"
	case 2:
		return "medium"
	}
	return "low"
}

// severity follows the bands of Elastic's detection rules (low < 47 ≤
// medium < 73 ≤ high < 99 ≤ critical).
func severity(risk float64) (int, string) {
	switch {
	case risk >= 99:
		return 4, "critical"
	case risk >= 73:
		return 3, "high"
	case risk >= 47:
		return 2, "medium"
	}
	return 1, "low"
}

// ID returns the document's ID: for an incident, its first alert's ID;
// otherwise a hash of what identifies the alert (rule, host, endpoints,
// start time to the second, flow uids), so writing the same alert twice
// gives the same ID and a different alert a different one.
func (a *Alert) ID() string {
	if a.MLADS.Incident != nil && a.MLADS.Incident.ID != "" {
		return a.MLADS.Incident.ID
	}
	if a.Event.ID != "" {
		return a.Event.ID
	}
	return a.contentID()
}

func (a *Alert) contentID() string {
	ep := func(b []byte, e *Endpoint) []byte {
		if e == nil {
			return append(b, '-', 0)
		}
		return append(strconv.AppendInt(append(append(b, e.IP...), '/'), int64(e.Port), 10), 0)
	}
	transport := ""
	if a.Network != nil {
		transport = a.Network.Transport
	}
	// "mlads-alert-v1\0rule\0host\0ip/port\0ip/port\0transport\0unix\0", then each uid and \0
	var buf [256]byte
	b := append(buf[:0], "mlads-alert-v1\x00"...)
	b = append(append(b, a.Rule.ID...), 0)
	b = append(append(b, a.MLADS.Host...), 0)
	b = ep(b, a.Source)
	b = ep(b, a.Destination)
	b = append(append(b, transport...), 0)
	b = append(strconv.AppendInt(b, a.Timestamp.Unix(), 10), 0)
	for _, u := range a.MLADS.FlowUIDs {
		b = append(append(b, u...), 0)
	}
	sum := sha256.Sum256(b)
	var id [32]byte
	hex.Encode(id[:], sum[:16])
	return string(id[:])
}

func addr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// relatedPair is related(x, y) in pair's storage.
func relatedPair(pair *[2]string, x, y string) []string {
	if x > y {
		x, y = y, x
	}
	switch {
	case x == "" && y == "":
		return nil
	case x == "" || x == y:
		pair[0] = y
		return pair[:1:1]
	}
	*pair = [2]string{x, y}
	return pair[:2:2]
}

// related lists the distinct non-empty IPs, sorted.
func related(ips ...string) []string {
	var out []string
	for _, ip := range ips {
		if ip != "" && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	slices.Sort(out)
	return out
}
