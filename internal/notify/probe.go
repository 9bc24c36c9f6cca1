package notify

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ProbeResult is what one channel answered to a test message.
type ProbeResult struct {
	Via     string // smtp, gateway, twilio, bot, webhook
	To      string
	Receipt string // the service's ID for the message (Slack ts, Twilio SID, Message-ID)
	Err     error  // redacted
	Took    time.Duration
}

// Probe sends a test message through every configured channel (or only
// the one named: email, sms, slack, or smtp, gateway, twilio, bot,
// webhook) to every address that uses it, once each, and returns what
// each answered. Errors are redacted.
func Probe(ctx context.Context, c *Contacts, send Senders, channel string, now time.Time) ([]ProbeResult, error) {
	c2 := content{
		subject: "[mlads] test message",
		title:   "mlads test message",
		summary: "This is a test of mlads's notifications, sent by `mlads contacts test` at " + now.UTC().Format(stamp) + ". Nothing happened.",
		footer:  "test from " + c.Path,
		sms:     "mlads test message " + now.UTC().Format("Jan 2 15:04Z") + ": nothing happened",
	}
	rc := c2.render(AllKinds)
	var msgs []*Message
	seen := map[string]bool{}
	names := slices.Sorted(mapKeys(c.People))
	for _, name := range names {
		ct := c.People[name]
		for _, m := range probeMessages(ct, &rc) {
			if seen[m.Via+"|"+m.To] || !probeWanted(channel, m) {
				continue
			}
			seen[m.Via+"|"+m.To] = true
			m.Key = messageKey(KindTest, now.UTC().Format(time.RFC3339Nano), m.Via, m.To)
			m.Created = now
			msgs = append(msgs, m)
		}
	}
	if len(msgs) == 0 {
		return nil, fmt.Errorf("no address uses channel %q", channel)
	}
	red := redactor(c.secrets())
	var out []ProbeResult
	for _, m := range msgs {
		r := ProbeResult{Via: m.Via, To: m.To}
		s := send[m.Via]
		start := time.Now()
		if s == nil {
			r.Err = fmt.Errorf("%s is not configured", m.Via)
		} else {
			r.Receipt, r.Err = s.Send(ctx, m, "")
			r.Err = red.Error(r.Err)
		}
		r.Took = time.Since(start)
		out = append(out, r)
	}
	return out, nil
}

func probeMessages(ct *Contact, rc *rendered) []*Message {
	var ms []*Message
	base := Message{Kind: KindTest, Contact: ct.Name, Subject: rc.subject}
	for _, e := range ct.Email {
		m := base
		m.Channel, m.Via, m.To, m.Text, m.HTML = "email", "smtp", e, rc.text, rc.html
		ms = append(ms, &m)
	}
	for _, p := range ct.Phone {
		m := base
		m.Channel, m.Via, m.To, m.Text = "sms", ct.SMSVia, p, rc.sms
		ms = append(ms, &m)
	}
	for _, s := range ct.Slack {
		m := base
		m.Channel, m.Via, m.To, m.Text, m.Blocks = "slack", "bot", s, rc.text, rc.blocks
		if strings.HasPrefix(s, "webhook:") {
			m.Via = "webhook"
		}
		ms = append(ms, &m)
	}
	return ms
}

func probeWanted(channel string, m *Message) bool {
	return channel == "" || channel == m.Channel || channel == m.Via
}
