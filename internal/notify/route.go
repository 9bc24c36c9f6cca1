package notify

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/mlads/mlads/internal/alert"
)

// match is a route's conditions. Each field that is set must hold (and);
// within a field, any value may (or).
type match struct {
	minSeverity int
	detectors   []string
	rules       []string // rule.id or rule.name
	src, dst    []netip.Prefix
	sensors     []string // observer.name
	tags        []string
}

func (m *match) matches(a *alert.Alert) bool {
	if a.Event.Severity < m.minSeverity {
		return false
	}
	if len(m.detectors) > 0 && !slices.Contains(m.detectors, a.MLADS.Detector) {
		return false
	}
	if len(m.rules) > 0 && !slices.Contains(m.rules, a.Rule.ID) && !slices.Contains(m.rules, a.Rule.Name) {
		return false
	}
	if len(m.sensors) > 0 && !slices.Contains(m.sensors, a.Observer.Name) {
		return false
	}
	if len(m.src) > 0 && !a.Source.InPrefixes(m.src) {
		return false
	}
	if len(m.dst) > 0 && !a.Destination.InPrefixes(m.dst) {
		return false
	}
	if len(m.tags) > 0 && !hasTag(a, m.tags) {
		return false
	}
	return true
}

// Tags lists an alert's tags, which routes match with match.tags: the
// rule's category (flow, behavior), where the flow came from (pcap, live,
// zeek, eve), the transport (tcp, udp, icmp) and the services seen
// ("dns", "ssl", "http").
func Tags(a *alert.Alert) []string {
	var t []string
	add := func(s string) {
		if s != "" && !slices.Contains(t, s) {
			t = append(t, s)
		}
	}
	add(a.Rule.Category)
	add(a.MLADS.Source)
	if a.Network != nil {
		add(a.Network.Transport)
		for s := range strings.SplitSeq(a.Network.Protocol, ",") {
			add(s)
		}
	}
	return t
}

func hasTag(a *alert.Alert, want []string) bool {
	has := func(s string) bool { return s != "" && slices.Contains(want, s) }
	if has(a.Rule.Category) || has(a.MLADS.Source) {
		return true
	}
	if a.Network != nil {
		if has(a.Network.Transport) {
			return true
		}
		for s := range strings.SplitSeq(a.Network.Protocol, ",") {
			if has(s) {
				return true
			}
		}
	}
	return false
}

// Match appends to dst the routes a matches, in order: the first
// matching route, and the ones after it while each says continue; the
// default route when none matches.
func (c *Contacts) Match(dst []*Route, a *alert.Alert) []*Route {
	n := len(dst)
	for _, r := range c.Routes {
		if !r.match.matches(a) {
			continue
		}
		dst = append(dst, r)
		if !r.Continue {
			return dst
		}
	}
	if len(dst) == n && c.Default != nil {
		dst = append(dst, c.Default)
	}
	return dst
}
