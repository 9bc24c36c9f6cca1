package notify

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/mlads/mlads/internal/alert"
)

// content is what a message says, before it is rendered for a channel:
// email text and HTML, an SMS, Slack blocks.
type content struct {
	subject  string // the email subject and Slack's fallback text
	title    string
	summary  string
	fields   [][2]string
	sections []section
	link     string // to Kibana, when configured
	footer   string
	sms      string // the whole SMS: one segment
}

type section struct {
	title string
	items []string
}

// rendered is content in every channel's form.
type rendered struct {
	subject, text, html, sms string
	blocks                   json.RawMessage
}

func (c *content) render(kinds Kinds) rendered {
	r := rendered{subject: c.subject, text: c.textBody()}
	if kinds.Has(KindEmail) {
		r.html = c.htmlBody()
	}
	if kinds.Has(KindSMS) {
		r.sms = smsText(c.sms)
	}
	if kinds.Has(KindSlack) {
		r.blocks = c.slackBlocks()
	}
	return r
}

var severityNames = []string{"", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

func severityName(s int) string {
	if s < 1 || s >= len(severityNames) {
		return "ALERT"
	}
	return severityNames[s]
}

const stamp = "2006-01-02 15:04:05 UTC"

// alertContent says what happened, where, and why it is unusual, with
// the numbers of the explanation. count > 1 says how often it was seen.
func alertContent(a *alert.Alert, kibana string) content {
	m := &a.MLADS
	sev := severityName(a.Event.Severity)
	host := m.Host
	if host == "" && a.Source != nil {
		host = a.Source.IP
	}
	count := 1
	start, end := a.Event.Start, a.Event.End
	if m.Incident != nil {
		count = m.Incident.Count
		start, end = m.Incident.FirstSeen, m.Incident.LastSeen
	}
	if start.IsZero() {
		start = a.Timestamp
	}
	c := content{
		subject: "[mlads " + sev + "] " + m.Detector + " " + host,
		title:   sev + ": " + m.Detector + " by " + host,
		summary: m.Summary,
	}
	if a.Observer.Name != "" {
		c.subject += " on " + a.Observer.Name
	}
	if count > 1 {
		c.title += " (" + strconv.Itoa(count) + " times)"
	}
	when := start.UTC().Format(stamp)
	if end.After(start) {
		when += " to " + end.UTC().Format("15:04:05")
	}
	c.fields = append(c.fields, [2]string{"When", when}, [2]string{"Host", host})
	if a.Source != nil || a.Destination != nil {
		c.fields = append(c.fields, [2]string{"Traffic", endpoints(a)})
	}
	if a.Observer.Name != "" {
		c.fields = append(c.fields, [2]string{"Sensor", a.Observer.Name})
	}
	c.fields = append(c.fields,
		[2]string{"Rule", a.Rule.ID},
		[2]string{"Score", fmt.Sprintf("risk %.0f, p = %.2g", a.Event.RiskScore, m.PValue)})
	if count > 1 {
		c.fields = append(c.fields, [2]string{"Seen", strconv.Itoa(count) + " times"})
	}
	if a.Rule.Description != "" {
		c.sections = append(c.sections, section{"What it means", []string{a.Rule.Description}})
	}
	var why []string
	for _, f := range m.Features {
		if len(why) == 5 {
			break
		}
		if f.Text != "" {
			why = append(why, fmt.Sprintf("%s (z %.1f)", f.Text, f.Z))
		} else {
			why = append(why, fmt.Sprintf("%s = %g, typical %g ± %g", f.Name, f.Value, f.Median, f.Spread))
		}
	}
	for _, h := range m.Hits {
		if h.Fired {
			why = append(why, fmt.Sprintf("detector %s fired, p = %.2g", h.Detector, h.PValue))
		}
	}
	if len(m.Evidence) > 0 {
		for _, k := range slices.Sorted(maps.Keys(m.Evidence)) {
			if len(why) == 12 {
				break
			}
			why = append(why, fmt.Sprintf("%s: %v", k, m.Evidence[k]))
		}
	}
	if len(why) > 0 {
		c.sections = append(c.sections, section{"Why it is unusual", why})
	}
	if kibana != "" {
		c.link = kibanaLink(kibana, a.ID(), start, end)
	}
	c.footer = "alert " + a.ID()
	c.sms = sev + " " + host + " " + m.Detector + " " + start.UTC().Format("Jan 2 15:04Z")
	if a.Observer.Name != "" {
		c.sms += " " + a.Observer.Name
	}
	if count > 1 {
		c.sms += " x" + strconv.Itoa(count)
	}
	c.sms += ": " + m.Summary
	return c
}

func endpoints(a *alert.Alert) string {
	ep := func(e *alert.Endpoint) string {
		if e == nil || e.IP == "" {
			return "?"
		}
		if e.Port == 0 {
			return e.IP
		}
		if strings.Contains(e.IP, ":") {
			return "[" + e.IP + "]:" + strconv.Itoa(e.Port)
		}
		return e.IP + ":" + strconv.Itoa(e.Port)
	}
	s := ep(a.Source) + " → " + ep(a.Destination)
	if a.Network != nil && a.Network.Transport != "" {
		s = a.Network.Transport + " " + s
		if a.Network.Protocol != "" {
			s += " (" + a.Network.Protocol + ")"
		}
	}
	return s
}

// kibanaLink opens Discover on the alert, an hour either side of it.
func kibanaLink(base, id string, start, end time.Time) string {
	q := fmt.Sprintf(`event.id:"%s" or mlads.incident.id:"%s"`, id, id)
	g := fmt.Sprintf("(time:(from:'%s',to:'%s'))",
		start.Add(-time.Hour).UTC().Format(time.RFC3339), end.Add(time.Hour).UTC().Format(time.RFC3339))
	a := "(query:(language:kuery,query:'" + strings.ReplaceAll(q, "'", "!'") + "'))"
	return strings.TrimSuffix(base, "/") + "/app/discover#/?_g=" + url.QueryEscape(g) + "&_a=" + url.QueryEscape(a)
}

func (c *content) textBody() string {
	var b strings.Builder
	b.Grow(512)
	b.WriteString(c.title)
	b.WriteString("\n\n")
	if c.summary != "" {
		b.WriteString(c.summary)
		b.WriteString("\n\n")
	}
	w := 0
	for _, f := range c.fields {
		w = max(w, len(f[0]))
	}
	for _, f := range c.fields {
		b.WriteString(f[0])
		b.WriteString(":")
		b.WriteString(strings.Repeat(" ", w-len(f[0])+1))
		b.WriteString(f[1])
		b.WriteByte('\n')
	}
	for _, s := range c.sections {
		b.WriteString("\n")
		b.WriteString(s.title)
		b.WriteString(":\n")
		for _, it := range s.items {
			b.WriteString("  - ")
			b.WriteString(it)
			b.WriteByte('\n')
		}
	}
	if c.link != "" {
		b.WriteString("\nIn Kibana: ")
		b.WriteString(c.link)
		b.WriteByte('\n')
	}
	if c.footer != "" {
		b.WriteString("\n-- \nmlads, ")
		b.WriteString(c.footer)
		b.WriteByte('\n')
	}
	return b.String()
}

func (c *content) htmlBody() string {
	var b strings.Builder
	b.Grow(1536)
	w := func(ss ...string) {
		for _, s := range ss {
			b.WriteString(s)
		}
	}
	e := func(s string) { htmlEscaper.WriteString(&b, s) } //nolint:errcheck // a strings.Builder does not fail
	w(`<!DOCTYPE html><html><body style="font-family:sans-serif"><h2>`)
	e(c.title)
	w("</h2>")
	if c.summary != "" {
		w("<p>")
		e(c.summary)
		w("</p>")
	}
	if len(c.fields) > 0 {
		w("<table>")
		for _, f := range c.fields {
			w(`<tr><th align="left">`)
			e(f[0])
			w("</th><td>")
			e(f[1])
			w("</td></tr>")
		}
		w("</table>")
	}
	for _, s := range c.sections {
		w("<h3>")
		e(s.title)
		w("</h3><ul>")
		for _, it := range s.items {
			w("<li>")
			e(it)
			w("</li>")
		}
		w("</ul>")
	}
	if c.link != "" {
		w(`<p><a href="`)
		e(c.link)
		w(`">Open in Kibana</a></p>`)
	}
	if c.footer != "" {
		w(`<p style="color:#888">mlads, `)
		e(c.footer)
		w("</p>")
	}
	w("</body></html>")
	return b.String()
}

// htmlEscaper escapes as html.EscapeString does.
var htmlEscaper = strings.NewReplacer(`&`, "&amp;", `'`, "&#39;", `<`, "&lt;", `>`, "&gt;", `"`, "&#34;")

// slackBlocks renders c as Block Kit blocks, within Slack's limits (a
// header of 150 characters, ten fields, sections of 3000). The JSON is
// written directly: through slack-go's types and encoding/json it took
// most of an alert's rendering time; the Slack channel decodes it into
// slack-go's types again to send it, and the tests check that it does.
func (c *content) slackBlocks() json.RawMessage {
	b := make([]byte, 0, 1024)
	text := func(b []byte, typ, s string) []byte {
		b = append(b, `{"type":"`...)
		b = append(b, typ...)
		b = append(b, `","text":`...)
		return appendJSONString(b, s)
	}
	b = append(b, `[{"type":"header","text":`...)
	b = text(b, slack.PlainTextType, cut(c.title, 150))
	b = append(b, "}}"...)
	if c.summary != "" {
		b = append(b, `,{"type":"section","text":`...)
		b = text(b, slack.MarkdownType, cut(slackEscape(c.summary), 3000))
		b = append(b, "}}"...)
	}
	if len(c.fields) > 0 {
		b = append(b, `,{"type":"section","fields":[`...)
		for i, f := range c.fields[:min(len(c.fields), 10)] {
			if i > 0 {
				b = append(b, ',')
			}
			b = text(b, slack.MarkdownType, cut("*"+f[0]+"*\n"+slackEscape(f[1]), 2000))
			b = append(b, '}')
		}
		b = append(b, "]}"...)
	}
	for _, s := range c.sections {
		var sb strings.Builder
		sb.WriteString("*" + s.title + "*")
		for _, it := range s.items {
			sb.WriteString("\n• ")
			sb.WriteString(slackEscape(it))
		}
		b = append(b, `,{"type":"section","text":`...)
		b = text(b, slack.MarkdownType, cut(sb.String(), 3000))
		b = append(b, "}}"...)
	}
	if c.link != "" {
		b = append(b, `,{"type":"actions","block_id":"links","elements":[{"type":"button","action_id":"kibana","value":"open","text":`...)
		b = text(b, slack.PlainTextType, "Open in Kibana")
		b = append(b, `},"url":`...)
		b = appendJSONString(b, c.link)
		b = append(b, "}]}"...)
	}
	if c.footer != "" {
		b = append(b, `,{"type":"context","elements":[`...)
		b = text(b, slack.MarkdownType, slackEscape("mlads, "+c.footer))
		b = append(b, "}]}"...)
	}
	b = append(b, ']')
	return b
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning.
func slackEscape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// smsText fits s in one SMS segment: 160 characters of the GSM 7-bit
// alphabet. A single character outside it would make the whole message
// UCS-2 and its limit 70, so arrows become "->" and anything else
// outside printable ASCII is dropped.
func smsText(s string) string {
	const segment = 160
	s = strings.ReplaceAll(s, "→", "->")
	s = strings.ReplaceAll(s, "±", "+/-")
	var b strings.Builder
	b.Grow(min(len(s), segment))
	n := 0
	for _, r := range s {
		if r < ' ' || r > '~' || strings.ContainsRune("[]{}\\^~|", r) {
			// outside GSM 7-bit, or in its extension table (counts twice)
			if r == '\n' || r == '\t' {
				r = ' '
			} else {
				continue
			}
		}
		if n == segment {
			break
		}
		b.WriteRune(r)
		n++
	}
	out := b.String()
	if n == segment && len(out) < len(s) {
		out = out[:segment-3] + "..."
	}
	return out
}
