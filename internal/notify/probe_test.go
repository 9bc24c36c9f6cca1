package notify

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestProbe sends `mlads contacts test` messages through Slack (bot and
// webhooks): one per address, each answer reported, a dead webhook's
// error redacted.
func TestProbe(t *testing.T) {
	f := newSlackFront(t)
	c := slackContacts(t, f, "")
	c.People["soc"].Slack = append(c.People["soc"].Slack, "webhook:dead")
	s, err := NewSenders(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := Probe(ctx, c, s, "slack", t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results: %+v", len(res), res)
	}
	for _, r := range res {
		switch r.To {
		case "#soc", "webhook:ops":
			if r.Err != nil {
				t.Errorf("%s: %v", r.To, r.Err)
			}
		case "webhook:dead":
			if r.Err == nil || strings.Contains(r.Err.Error(), hookSecret) || !strings.Contains(r.Err.Error(), "[secret]") {
				t.Errorf("dead webhook: %v", r.Err)
			}
		}
	}
	if p := f.delivered(); len(p) != 1 || p[0].form.Get("text") != "[mlads] test message" {
		t.Errorf("bot posts: %+v", p)
	}
	if _, err := Probe(ctx, c, s, "sms", t0); err == nil {
		t.Error("a probe of an unused channel did not fail")
	}
}
