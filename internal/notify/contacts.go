package notify

import (
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mlads/mlads/internal/yamlfile"
)

// Contacts is a loaded, checked contacts file: the people and groups to
// notify, the channels that reach them, the routes that pick who hears of
// which alert, and the schedules that keep them quiet at night. It is
// read-only once loaded and may be shared.
type Contacts struct {
	// Path is the file it was loaded from.
	Path string
	// Email, Twilio, Gateway and Slack configure the channels; nil when
	// the file does not set them up.
	Email   *EmailConfig
	Twilio  *TwilioConfig
	Gateway *GatewayConfig
	Slack   *SlackConfig
	// People are the contacts and the groups' own addresses, by name.
	People map[string]*Contact
	// Routes are tried in order; Default catches what none matched.
	Routes  []*Route
	Default *Route
	// ChannelFailure are told when a channel keeps failing (by the other
	// channels); the default route's people unless the file names others.
	ChannelFailure []*Contact
}

// Contact is one person, or a group's own addresses (a team mailbox, a
// Slack channel), with what reaches them.
type Contact struct {
	Name   string
	Email  []string
	Phone  []string // E.164, "+15551234567"
	Slack  []string // "#channel", a channel or user ID, or "webhook:NAME"
	SMSVia string   // "twilio" or "gateway"
	// Schedule, when set, holds messages back in its quiet hours.
	Schedule *Schedule
}

// Route says who is told of the alerts it matches, by which channels, and
// how the noise is kept down.
type Route struct {
	Name  string
	Index int // position in the file; the default route is len(Routes)
	match match
	// People are the route's contacts, groups expanded, each once.
	People   []*Contact
	Channels Kinds // the channels this route may use
	Continue bool
	Schedule *Schedule
	// ThrottleMax messages per ThrottlePer to one contact; the rest waits
	// for the digest. ThrottleMax 0 means no limit.
	ThrottleMax int
	ThrottlePer time.Duration
	// RepeatInterval is how often a Slack thread hears of an incident's
	// repeats (email and SMS only count them, for the digest).
	RepeatInterval time.Duration
	// Digest is how often what was held back is sent as one message.
	Digest time.Duration
	// ResolveAfter is how long an incident must be quiet before a
	// "resolved" notice goes out; 0 sends none.
	ResolveAfter time.Duration
}

// Kinds is a set of channel kinds.
type Kinds uint8

// The channel kinds.
const (
	KindEmail Kinds = 1 << iota
	KindSMS
	KindSlack
	AllKinds = KindEmail | KindSMS | KindSlack
)

// Has reports whether k holds all of o.
func (k Kinds) Has(o Kinds) bool { return k&o == o }

// String names the kinds, comma-separated.
func (k Kinds) String() string {
	var s []string
	for _, n := range kindNames {
		if k.Has(n.k) {
			s = append(s, n.name)
		}
	}
	return strings.Join(s, ",")
}

var kindNames = []struct {
	name string
	k    Kinds
}{{"email", KindEmail}, {"sms", KindSMS}, {"slack", KindSlack}}

// Secret is a credential read from the environment. It prints as
// "[secret]", in logs, errors and JSON alike; Value gives it to the
// client library that needs it.
type Secret struct{ v string }

// Value returns the secret itself.
func (s Secret) Value() string { return s.v }

// String hides the secret.
func (s Secret) String() string { return "[secret]" }

// GoString hides the secret from %#v.
func (s Secret) GoString() string { return "[secret]" }

// MarshalJSON hides the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"[secret]"`), nil }

// EmailConfig is the SMTP server email goes through.
type EmailConfig struct {
	Host     string
	Port     int
	TLS      string // starttls, implicit or none
	Username string
	Password Secret
	From     string
	// CAFile, when set, is the PEM file of the CA the server's certificate
	// must chain to (a private CA); InsecureSkipVerify skips the check.
	CAFile             string
	InsecureSkipVerify bool
}

// TwilioConfig is the Twilio account SMS goes through.
type TwilioConfig struct {
	AccountSID          string
	AuthToken           Secret
	From                string
	MessagingServiceSID string
	// BaseURL replaces https://api.twilio.com (a proxy, or a test server).
	BaseURL string
}

// GatewayConfig is an email-to-SMS gateway: a text to +15551234567 is
// an email to 15551234567@Domain, sent through the email channel.
type GatewayConfig struct {
	Domain string
}

// SlackConfig is the Slack bot and the incoming webhooks.
type SlackConfig struct {
	Token    Secret
	APIURL   string // replaces https://slack.com/api/ (tests)
	Webhooks map[string]Secret
	bot      bool // token_env is set
}

// secrets lists every secret value, for redaction.
func (c *Contacts) secrets() []string {
	var s []string
	add := func(x Secret) {
		if x.v != "" {
			s = append(s, x.v)
		}
	}
	if c.Email != nil {
		add(c.Email.Password)
	}
	if c.Twilio != nil {
		add(c.Twilio.AuthToken)
	}
	if c.Slack != nil {
		add(c.Slack.Token)
		for _, w := range c.Slack.Webhooks {
			add(w)
		}
	}
	return s
}

// Load reads and checks the contacts file at path. Secrets are read from
// the environment variables the file names, through getenv (os.LookupEnv
// in main; a map in tests). Every problem is reported as
// "FILE:LINE: KEY: what is wrong", all of them at once.
func Load(path string, getenv func(string) (string, bool)) (*Contacts, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("contacts: %w", err)
	}
	return Parse(path, b, getenv)
}

// Parse is Load on the file's content; path names it in errors.
func Parse(path string, b []byte, getenv func(string) (string, bool)) (*Contacts, error) {
	if getenv == nil {
		getenv = os.LookupEnv
	}
	var f file
	root, err := yamlfile.Decode("contacts", path, b, &f)
	if err != nil {
		return nil, err
	}
	p := &problems{path: path, root: root}
	c := compile(&f, p, getenv)
	if err := p.err(); err != nil {
		return nil, err
	}
	c.Path = path
	return c, nil
}

// problems collects what is wrong with the file, each located by the path
// of its key in the YAML tree.
type problems struct {
	path string
	root *yaml.Node
	errs []error
}

// at records a problem with the value at key (a dotted path with
// indexes: "routes[1].match.src[0]").
func (p *problems) at(key string, format string, args ...any) {
	line := lineOf(p.root, key)
	p.errs = append(p.errs, fmt.Errorf("contacts: %s:%d: %s: %s", p.path, line, key, fmt.Sprintf(format, args...)))
}

func (p *problems) err() error { return errors.Join(p.errs...) }

// lineOf returns the line of the value at key, or of the nearest parent
// the file has (a missing key is reported at its parent).
func lineOf(root *yaml.Node, key string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, part := range splitKey(key) {
		var next *yaml.Node
		switch {
		case part.index >= 0 && n.Kind == yaml.SequenceNode && part.index < len(n.Content):
			next = n.Content[part.index]
		case part.index < 0 && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part.name {
					next = n.Content[i+1]
					if next.Kind == yaml.ScalarNode {
						next = n.Content[i] // the key's line
					}
					break
				}
			}
		}
		if next == nil {
			return line
		}
		n, line = next, next.Line
	}
	return line
}

type keyPart struct {
	name  string
	index int
}

func splitKey(key string) []keyPart {
	var out []keyPart
	for _, f := range strings.Split(key, ".") {
		name, rest, _ := strings.Cut(f, "[")
		if name != "" {
			out = append(out, keyPart{name, -1})
		}
		for rest != "" {
			num, after, _ := strings.Cut(rest, "]")
			i, _ := strconv.Atoi(num)
			out = append(out, keyPart{"", i})
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return out
}

var (
	phoneRE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	sidRE   = regexp.MustCompile(`^(AC|MG)[0-9a-fA-F]{32}$`)
)

// compile checks f and builds Contacts from it, reporting every problem
// to p.
func compile(f *file, p *problems, getenv func(string) (string, bool)) *Contacts {
	c := &Contacts{People: map[string]*Contact{}}
	secret := func(key, env string, required bool) Secret {
		if env == "" {
			if required {
				p.at(key, "must name the environment variable holding the secret")
			}
			return Secret{}
		}
		if strings.HasPrefix(env, "MLADS_") {
			p.at(key, "%s: MLADS_ variables are configuration keys (an unknown one stops mlads); name the secret otherwise", env)
			return Secret{}
		}
		v, ok := getenv(env)
		if !ok || v == "" {
			p.at(key, "environment variable %s is not set", env)
		}
		return Secret{v}
	}
	compileChannels(c, f, p, secret)

	schedules := map[string]*Schedule{}
	for name, s := range f.Schedules {
		sc, err := compileSchedule(name, s)
		if err != nil {
			p.at("schedules."+name+"."+err.key, "%s", err.msg)
		}
		schedules[name] = sc // nil when broken: reported once, here
	}
	schedule := func(key, name string) *Schedule {
		if name == "" {
			return nil
		}
		s, ok := schedules[name]
		if !ok {
			p.at(key, "no schedule named %q", name)
		}
		return s
	}

	groups := map[string]*fileGroup{}
	for i := range f.Contacts {
		fc := &f.Contacts[i]
		key := fmt.Sprintf("contacts[%d]", i)
		if !nameRE.MatchString(fc.Name) {
			p.at(key+".name", "%q is not a name (letters, digits, _ . -)", fc.Name)
			continue
		}
		if _, dup := c.People[fc.Name]; dup {
			p.at(key+".name", "%q is defined twice", fc.Name)
			continue
		}
		ct := &Contact{Name: fc.Name, Email: fc.Email, Phone: fc.Phone, Slack: fc.Slack, SMSVia: fc.SMSVia,
			Schedule: schedule(key+".schedule", fc.Schedule)}
		checkAddresses(c, p, key, ct)
		if len(ct.Email)+len(ct.Phone)+len(ct.Slack) == 0 {
			p.at(key, "contact %q has no email, phone or slack", fc.Name)
		}
		c.People[fc.Name] = ct
	}
	for i := range f.Groups {
		g := &f.Groups[i]
		key := fmt.Sprintf("groups[%d]", i)
		if !nameRE.MatchString(g.Name) {
			p.at(key+".name", "%q is not a name (letters, digits, _ . -)", g.Name)
			continue
		}
		if _, dup := c.People[g.Name]; dup || groups[g.Name] != nil {
			p.at(key+".name", "%q is defined twice (contacts and groups share names)", g.Name)
			continue
		}
		groups[g.Name] = g
		if len(g.Email)+len(g.Slack) > 0 {
			ct := &Contact{Name: g.Name, Email: g.Email, Slack: g.Slack, Schedule: schedule(key+".schedule", g.Schedule)}
			checkAddresses(c, p, key, ct)
			c.People[g.Name] = ct
		}
	}
	for i := range f.Groups {
		g := &f.Groups[i]
		for j, m := range g.Members {
			if _, ok := c.People[m]; !ok && groups[m] == nil {
				p.at(fmt.Sprintf("groups[%d].members[%d]", i, j), "no contact or group named %q", m)
			}
		}
	}
	expand := func(key string, names []string) []*Contact {
		var out []*Contact
		var visit func(name string, seen []string)
		visit = func(name string, seen []string) {
			if slices.Contains(seen, name) {
				p.at(key, "group %q contains itself (%s)", name, strings.Join(append(seen, name), " → "))
				return
			}
			if ct, ok := c.People[name]; ok && !slices.Contains(out, ct) {
				out = append(out, ct)
			}
			if g := groups[name]; g != nil {
				for _, m := range g.Members {
					visit(m, append(seen, name))
				}
			}
		}
		for j, n := range names {
			if _, ok := c.People[n]; !ok && groups[n] == nil {
				p.at(fmt.Sprintf("%s[%d]", key, j), "no contact or group named %q", n)
				continue
			}
			visit(n, nil)
		}
		return out
	}

	for i := range f.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		r := compileRoute(&f.Routes[i], key, p, schedule, expand)
		r.Index = i
		if r.Name == "" {
			r.Name = "route-" + strconv.Itoa(i+1)
		}
		c.Routes = append(c.Routes, r)
	}
	if f.DefaultRoute == nil {
		p.at("default_route", "missing: alerts that no route matches need a default route")
	} else {
		if !f.DefaultRoute.Match.empty() {
			p.at("default_route.match", "the default route matches everything; it takes no match")
		}
		if f.DefaultRoute.Continue {
			p.at("default_route.continue", "the default route comes last; continue means nothing there")
		}
		c.Default = compileRoute(f.DefaultRoute, "default_route", p, schedule, expand)
		c.Default.Index = len(c.Routes)
		if c.Default.Name == "" {
			c.Default.Name = "default"
		}
		c.ChannelFailure = c.Default.People
	}
	if len(f.ChannelFailure) > 0 {
		c.ChannelFailure = expand("channel_failure", f.ChannelFailure)
	}
	return c
}

func (m *fileMatch) empty() bool {
	return m.MinSeverity == "" && len(m.Detectors)+len(m.Rules)+len(m.Src)+len(m.Dst)+len(m.Sensors)+len(m.Tags) == 0
}

func compileChannels(c *Contacts, f *file, p *problems, secret func(key, env string, required bool) Secret) {
	if e := f.Channels.Email; e != nil {
		k := "channels.email"
		ec := &EmailConfig{Host: e.Host, Port: e.Port, TLS: e.TLS, Username: e.Username, From: e.From,
			CAFile: e.CAFile, InsecureSkipVerify: e.InsecureSkipVerify}
		if ec.Host == "" {
			p.at(k+".host", "must name the SMTP server")
		}
		switch ec.TLS {
		case "":
			ec.TLS = "starttls"
		case "starttls", "implicit", "none":
		default:
			p.at(k+".tls", "%q must be starttls, implicit or none", ec.TLS)
		}
		if ec.Port == 0 {
			ec.Port = map[string]int{"starttls": 587, "implicit": 465, "none": 25}[ec.TLS]
		} else if ec.Port < 0 || ec.Port > 65535 {
			p.at(k+".port", "%d is not a port", ec.Port)
		}
		if _, err := mail.ParseAddress(ec.From); err != nil {
			p.at(k+".from", "%q is not an email address", ec.From)
		}
		if ec.Username != "" {
			ec.Password = secret(k+".password_env", e.PasswordEnv, true)
		} else if e.PasswordEnv != "" {
			p.at(k+".password_env", "a password needs a username")
		}
		c.Email = ec
	}
	if s := f.Channels.SMS; s != nil {
		if t := s.Twilio; t != nil {
			k := "channels.sms.twilio"
			tc := &TwilioConfig{AccountSID: t.AccountSID, From: t.From, MessagingServiceSID: t.MessagingServiceSID, BaseURL: t.BaseURL}
			if !sidRE.MatchString(tc.AccountSID) || !strings.HasPrefix(tc.AccountSID, "AC") {
				p.at(k+".account_sid", "%q is not a Twilio account SID (AC and 32 hex digits)", tc.AccountSID)
			}
			tc.AuthToken = secret(k+".auth_token_env", t.AuthTokenEnv, true)
			switch {
			case tc.From == "" && tc.MessagingServiceSID == "":
				p.at(k, "needs from (a phone number) or messaging_service_sid")
			case tc.From != "" && !phoneRE.MatchString(tc.From):
				p.at(k+".from", "%q is not an E.164 phone number (+15551234567)", tc.From)
			case tc.MessagingServiceSID != "" && !strings.HasPrefix(tc.MessagingServiceSID, "MG"):
				p.at(k+".messaging_service_sid", "%q is not a messaging service SID (MG and 32 hex digits)", tc.MessagingServiceSID)
			}
			if tc.BaseURL != "" {
				if u, err := url.Parse(tc.BaseURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
					p.at(k+".base_url", "%q is not an http(s) URL", tc.BaseURL)
				}
			}
			c.Twilio = tc
		}
		if g := s.Gateway; g != nil {
			if g.Domain == "" || strings.ContainsAny(g.Domain, "@ /") {
				p.at("channels.sms.gateway.domain", "%q is not a domain", g.Domain)
			}
			if f.Channels.Email == nil {
				p.at("channels.sms.gateway", "an email-to-SMS gateway needs channels.email")
			}
			c.Gateway = &GatewayConfig{Domain: g.Domain}
		}
		if s.Twilio == nil && s.Gateway == nil {
			p.at("channels.sms", "needs twilio or gateway")
		}
	}
	if s := f.Channels.Slack; s != nil {
		k := "channels.slack"
		sc := &SlackConfig{APIURL: s.APIURL, Webhooks: map[string]Secret{}}
		if s.TokenEnv != "" {
			sc.Token, sc.bot = secret(k+".token_env", s.TokenEnv, false), true
		}
		for name, env := range s.Webhooks {
			sc.Webhooks[name] = secret(k+".webhooks."+name, env, true)
		}
		if s.TokenEnv == "" && len(s.Webhooks) == 0 {
			p.at(k, "needs token_env (the bot) or webhooks")
		}
		if sc.APIURL != "" && !strings.HasSuffix(sc.APIURL, "/") {
			sc.APIURL += "/"
		}
		c.Slack = sc
	}
}

// checkAddresses checks ct's addresses, and that the channels they need
// are configured.
func checkAddresses(c *Contacts, p *problems, key string, ct *Contact) {
	for i, e := range ct.Email {
		if a, err := mail.ParseAddress(e); err != nil || a.Name != "" {
			p.at(fmt.Sprintf("%s.email[%d]", key, i), "%q is not an email address", e)
		}
	}
	if len(ct.Email) > 0 && c.Email == nil {
		p.at(key+".email", "email addresses need channels.email")
	}
	for i, ph := range ct.Phone {
		if !phoneRE.MatchString(ph) {
			p.at(fmt.Sprintf("%s.phone[%d]", key, i), "%q is not an E.164 phone number (+15551234567)", ph)
		}
	}
	if len(ct.Phone) > 0 {
		switch ct.SMSVia {
		case "":
			ct.SMSVia = "twilio"
			if c.Twilio == nil {
				ct.SMSVia = "gateway"
			}
		case "twilio", "gateway":
		default:
			p.at(key+".sms_via", "%q must be twilio or gateway", ct.SMSVia)
		}
		if (ct.SMSVia == "twilio" && c.Twilio == nil) || (ct.SMSVia == "gateway" && c.Gateway == nil) {
			p.at(key+".phone", "phone numbers need channels.sms.%s", ct.SMSVia)
		}
	}
	for i, s := range ct.Slack {
		k := fmt.Sprintf("%s.slack[%d]", key, i)
		if name, ok := strings.CutPrefix(s, "webhook:"); ok {
			if c.Slack == nil || !hasKey(c.Slack.Webhooks, name) {
				p.at(k, "no webhook named %q in channels.slack.webhooks", name)
			}
			continue
		}
		if s == "" || strings.ContainsAny(s, " \t") {
			p.at(k, "%q is not a Slack channel or user", s)
		}
		if c.Slack == nil || !c.Slack.bot {
			p.at(k, "Slack channels and users need channels.slack.token_env (the bot); use webhook:NAME for a webhook")
		}
	}
}

func hasKey(m map[string]Secret, k string) bool { _, ok := m[k]; return ok }

func compileRoute(fr *fileRoute, key string, p *problems, schedule func(key, name string) *Schedule,
	expand func(key string, names []string) []*Contact) *Route {
	r := &Route{Name: fr.Name, Continue: fr.Continue, RepeatInterval: fr.RepeatInterval, Digest: fr.Digest,
		ResolveAfter: fr.ResolveAfter, Schedule: schedule(key+".schedule", fr.Schedule)}
	r.match = compileMatch(&fr.Match, key+".match", p)
	if len(fr.Notify) == 0 {
		p.at(key+".notify", "names no contact or group")
	}
	r.People = expand(key+".notify", fr.Notify)
	r.Channels = AllKinds
	if len(fr.Channels) > 0 {
		r.Channels = 0
		for i, ch := range fr.Channels {
			j := slices.IndexFunc(kindNames, func(n struct {
				name string
				k    Kinds
			}) bool {
				return n.name == ch
			})
			if j < 0 {
				p.at(fmt.Sprintf("%s.channels[%d]", key, i), "%q must be email, sms or slack", ch)
				continue
			}
			r.Channels |= kindNames[j].k
		}
	}
	if t := fr.Throttle; t != nil {
		if t.Max <= 0 {
			p.at(key+".throttle.max", "%d must be positive", t.Max)
		}
		if t.Per <= 0 {
			p.at(key+".throttle.per", "%s must be positive", t.Per)
		}
		r.ThrottleMax, r.ThrottlePer = t.Max, t.Per
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"repeat_interval", &r.RepeatInterval, 15 * time.Minute}, {"digest", &r.Digest, time.Hour}, {"resolve_after", &r.ResolveAfter, 0}} {
		switch {
		case *d.v < 0:
			p.at(key+"."+d.name, "%s must not be negative", *d.v)
		case *d.v == 0:
			*d.v = d.def
		case *d.v < time.Minute:
			p.at(key+"."+d.name, "%s is shorter than a minute", *d.v)
		}
	}
	return r
}

// severities are ECS event.severity's names in mlads (alert.severity).
var severities = map[string]int{"low": 1, "medium": 2, "high": 3, "critical": 4}

func compileMatch(fm *fileMatch, key string, p *problems) match {
	m := match{detectors: fm.Detectors, rules: fm.Rules, sensors: fm.Sensors, tags: fm.Tags}
	if fm.MinSeverity != "" {
		s, ok := severities[fm.MinSeverity]
		if !ok {
			p.at(key+".min_severity", "%q must be low, medium, high or critical", fm.MinSeverity)
		}
		m.minSeverity = s
	}
	prefixes := func(k string, in []string) []netip.Prefix {
		var out []netip.Prefix
		for i, s := range in {
			pf, err := netip.ParsePrefix(s)
			if err != nil {
				if a, aerr := netip.ParseAddr(s); aerr == nil {
					pf = netip.PrefixFrom(a, a.BitLen())
				} else {
					p.at(fmt.Sprintf("%s.%s[%d]", key, k, i), "%q is not a CIDR prefix or address", s)
					continue
				}
			}
			if pf.Masked() != pf {
				p.at(fmt.Sprintf("%s.%s[%d]", key, k, i), "%q has host bits set (did you mean %s?)", s, pf.Masked())
				continue
			}
			out = append(out, pf)
		}
		return out
	}
	m.src = prefixes("src", fm.Src)
	m.dst = prefixes("dst", fm.Dst)
	return m
}
