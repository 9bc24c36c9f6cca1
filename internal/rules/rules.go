// Package rules holds the analysts' rule files (rules/*.yaml): allowlists
// and suppressions, which keep an alert from being notified (it is still
// recorded, marked with the rule), and severity overrides. Every rule
// names its owner, its reason and its expiry; an expired rule stops
// applying and is reported.
package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/yamlfile"
)

// Kinds of rule.
const (
	Allow    = "allow"    // known-good traffic: not notified
	Suppress = "suppress" // known noise: not notified
	Severity = "severity" // notified at another severity
)

// Rule is one checked rule.
type Rule struct {
	ID       string
	Kind     string
	Owner    string
	Reason   string
	Expires  time.Time
	Severity int // for Kind Severity: 1 low … 4 critical
	File     string
	Line     int

	detectors []string
	src, dst  []netip.Prefix
	ports     []int
	community []string
	window    *window
}

type window struct {
	loc      *time.Location
	from, to int // minutes after midnight; to < from runs over midnight
}

// Set is the rules of some files, in order.
type Set struct {
	Rules []*Rule
}

// Decision is what the rules say of one alert.
type Decision struct {
	// SuppressedBy is the ID of the allow or suppress rule that matched
	// (the first, in file order), or "".
	SuppressedBy string
	// Severity is the overriding severity (1-4), or 0.
	Severity   int
	OverrideBy string
}

// Apply returns what the rules say of a, at the alert's own time: rules
// that expired before it do not apply.
func (s *Set) Apply(a *alert.Alert) Decision {
	var d Decision
	if s == nil {
		return d
	}
	for _, r := range s.Rules {
		if !a.Timestamp.Before(r.Expires) || !r.matches(a) {
			continue
		}
		switch r.Kind {
		case Allow, Suppress:
			if d.SuppressedBy == "" {
				d.SuppressedBy = r.ID
			}
		case Severity:
			if d.OverrideBy == "" {
				d.Severity, d.OverrideBy = r.Severity, r.ID
			}
		}
	}
	return d
}

// Expired returns the rules that have expired at now, for reporting.
func (s *Set) Expired(now time.Time) []*Rule {
	var out []*Rule
	for _, r := range s.Rules {
		if !now.Before(r.Expires) {
			out = append(out, r)
		}
	}
	return out
}

func (r *Rule) matches(a *alert.Alert) bool {
	if len(r.detectors) > 0 && !slices.Contains(r.detectors, a.MLADS.Detector) && !slices.Contains(r.detectors, a.Rule.ID) {
		return false
	}
	if len(r.src) > 0 && !a.Source.InPrefixes(r.src) {
		return false
	}
	if len(r.dst) > 0 && !a.Destination.InPrefixes(r.dst) {
		return false
	}
	if len(r.ports) > 0 && (a.Destination == nil || !slices.Contains(r.ports, a.Destination.Port)) {
		return false
	}
	if len(r.community) > 0 && (a.Network == nil || !slices.Contains(r.community, a.Network.CommunityID)) {
		return false
	}
	if w := r.window; w != nil {
		t := a.Timestamp.In(w.loc)
		m := t.Hour()*60 + t.Minute()
		in := m >= w.from && m < w.to
		if w.to < w.from {
			in = m >= w.from || m < w.to
		}
		if !in {
			return false
		}
	}
	return true
}

type file struct {
	Rules []fileRule `yaml:"rules"`
}

type fileRule struct {
	ID       string    `yaml:"id"`
	Kind     string    `yaml:"kind"`
	Owner    string    `yaml:"owner"`
	Reason   string    `yaml:"reason"`
	Expires  string    `yaml:"expires"`
	Severity string    `yaml:"severity"`
	Match    fileMatch `yaml:"match"`
}

type fileMatch struct {
	Detectors   []string    `yaml:"detectors"`
	Src         []string    `yaml:"src"`
	Dst         []string    `yaml:"dst"`
	Ports       []int       `yaml:"ports"`
	CommunityID []string    `yaml:"community_id"`
	Window      *fileWindow `yaml:"window"`
}

type fileWindow struct {
	From     string `yaml:"from"`
	To       string `yaml:"to"`
	Timezone string `yaml:"timezone"`
}

// Load reads the rule files that paths name (files, directories of
// *.yaml, or globs), in order. Every problem is reported as
// "FILE:LINE: KEY: what is wrong"; rule IDs must be unique across files.
func Load(paths ...string) (*Set, error) {
	files, err := Files(paths...)
	if err != nil {
		return nil, err
	}
	s := &Set{}
	var errs []error
	ids := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("rules: %w", err))
			continue
		}
		rs, err := Parse(f, b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range rs {
			if where, dup := ids[r.ID]; dup {
				errs = append(errs, fmt.Errorf("rules: %s:%d: id: %q is also defined at %s", r.File, r.Line, r.ID, where))
				continue
			}
			ids[r.ID] = fmt.Sprintf("%s:%d", r.File, r.Line)
			s.Rules = append(s.Rules, r)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Files lists the rule files paths name: files, directories (their
// *.yaml) and globs, in order.
func Files(paths ...string) ([]string, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.IsDir():
			m, _ := filepath.Glob(filepath.Join(p, "*.yaml"))
			files = append(files, m...)
		case err == nil:
			files = append(files, p)
		default:
			m, gerr := filepath.Glob(p)
			if gerr != nil || len(m) == 0 {
				return nil, fmt.Errorf("rules: %s: %w", p, err)
			}
			files = append(files, m...)
		}
	}
	return files, nil
}

var (
	idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// Parse checks the rules of one file's content; path names it in errors.
func Parse(path string, b []byte) ([]*Rule, error) {
	var f file
	root, err := yamlfile.Decode("rules", path, b, &f)
	if err != nil {
		return nil, err
	}
	seqs := ruleNodes(root)
	var errs []error
	var out []*Rule
	for i, fr := range f.Rules {
		line := 0
		var fields map[string]int
		if i < len(seqs) {
			line, fields = seqs[i].Line, keyLines(seqs[i])
		}
		bad := func(key, format string, args ...any) {
			l := line
			if fl, ok := fields[key]; ok {
				l = fl
			}
			errs = append(errs, fmt.Errorf("rules: %s:%d: rules[%d].%s: %s", path, l, i, key, fmt.Sprintf(format, args...)))
		}
		r := &Rule{ID: fr.ID, Kind: fr.Kind, Owner: fr.Owner, Reason: fr.Reason, File: path, Line: line,
			detectors: fr.Match.Detectors, ports: fr.Match.Ports, community: fr.Match.CommunityID}
		if !idRE.MatchString(fr.ID) {
			bad("id", "%q is not an ID (letters, digits, _ . -)", fr.ID)
		}
		switch fr.Kind {
		case Allow, Suppress:
			if fr.Severity != "" {
				bad("severity", "only a severity rule sets one")
			}
		case Severity:
			sev, ok := map[string]int{"low": 1, "medium": 2, "high": 3, "critical": 4}[fr.Severity]
			if !ok {
				bad("severity", "%q must be low, medium, high or critical", fr.Severity)
			}
			r.Severity = sev
		default:
			bad("kind", "%q must be allow, suppress or severity", fr.Kind)
		}
		if strings.TrimSpace(fr.Owner) == "" {
			bad("owner", "every rule needs an owner")
		}
		if strings.TrimSpace(fr.Reason) == "" {
			bad("reason", "every rule needs a reason")
		}
		switch exp, err := parseExpiry(fr.Expires); {
		case fr.Expires == "":
			bad("expires", "every rule needs an expiry (2027-06-30 or an RFC 3339 time)")
		case err != nil:
			bad("expires", "%q is not a date (2027-06-30) or an RFC 3339 time", fr.Expires)
		default:
			r.Expires = exp
		}
		m := fr.Match
		if len(m.Detectors)+len(m.Src)+len(m.Dst)+len(m.Ports)+len(m.CommunityID) == 0 && m.Window == nil {
			bad("match", "matches every alert; say what it is for")
		}
		r.src = prefixes(m.Src, func(j int, s string) { bad("match", "src[%d]: %q is not a CIDR prefix or address", j, s) })
		r.dst = prefixes(m.Dst, func(j int, s string) { bad("match", "dst[%d]: %q is not a CIDR prefix or address", j, s) })
		for j, p := range m.Ports {
			if p < 0 || p > 65535 {
				bad("match", "ports[%d]: %d is not a port", j, p)
			}
		}
		if w := m.Window; w != nil {
			loc, err := time.LoadLocation(cmpOr(w.Timezone, "UTC"))
			from, okf := clock(w.From)
			to, okt := clock(w.To)
			switch {
			case err != nil:
				bad("match", "window.timezone: %q is not a time zone", w.Timezone)
			case !okf || !okt || from == to:
				bad("match", "window: from %q to %q is not a window of HH:MM times", w.From, w.To)
			default:
				r.window = &window{loc: loc, from: from, to: to}
			}
		}
		out = append(out, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.AddDate(0, 0, 1), nil // the whole day
	}
	return time.Parse(time.RFC3339, s)
}

func prefixes(in []string, bad func(int, string)) []netip.Prefix {
	var out []netip.Prefix
	for j, s := range in {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				bad(j, s)
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}

func clock(s string) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || len(s) != 5 || err1 != nil || err2 != nil || hh > 24 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, false
	}
	return hh*60 + mm, true
}

// ruleNodes returns the mapping node of each rule in the file.
func ruleNodes(root *yaml.Node) []*yaml.Node {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "rules" && n.Content[i+1].Kind == yaml.SequenceNode {
			return n.Content[i+1].Content
		}
	}
	return nil
}

// keyLines maps a rule's keys to their lines.
func keyLines(n *yaml.Node) map[string]int {
	m := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		m[n.Content[i].Value] = n.Content[i].Line
	}
	return m
}
