package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"

	"github.com/mlads/mlads/internal/alert"
)

// slackFront stands in front of slack-go's slacktest server: it records
// every chat.postMessage (form, time, answer) and can answer the first
// ones with 429 and a Retry-After, as Slack's rate limiter does; the rest
// go to slacktest. Incoming webhooks are served by slacktest itself
// (a handler bound on it) and recorded too.
type slackFront struct {
	mu         sync.Mutex
	posts      []slackPost
	hooks      []slack.WebhookMessage
	limit      int    // how many posts still get a 429
	retryAfter string // its Retry-After, in seconds
	auth       []string
	srv        *slacktest.Server
	front      *httptest.Server
}

type slackPost struct {
	form    url.Values
	at      time.Time
	limited bool
	ts      string
}

func newSlackFront(t testing.TB) *slackFront {
	t.Helper()
	f := &slackFront{}
	f.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/services/", func(w http.ResponseWriter, r *http.Request) {
			var m slack.WebhookMessage
			if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
				http.Error(w, "invalid_payload", http.StatusBadRequest)
				return
			}
			f.mu.Lock()
			f.hooks = append(f.hooks, m)
			f.mu.Unlock()
			_, _ = io.WriteString(w, "ok")
		})
	})
	f.srv.Start()
	t.Cleanup(f.srv.Stop)
	target, _ := url.Parse("http://" + f.srv.ServerAddr)
	proxy := httputil.NewSingleHostReverseProxy(target)
	f.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/chat.postMessage" {
			proxy.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		f.mu.Lock()
		f.auth = append(f.auth, form.Get("token"))
		limited := f.limit > 0
		if limited {
			f.limit--
		}
		f.posts = append(f.posts, slackPost{form: form, at: time.Now(), limited: limited})
		i := len(f.posts) - 1
		f.mu.Unlock()
		if limited {
			w.Header().Set("Retry-After", f.retryAfter)
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		rec := httptest.NewRecorder()
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(rec, r)
		var resp struct{ TS string }
		_ = json.Unmarshal(rec.Body.Bytes(), &resp)
		f.mu.Lock()
		f.posts[i].ts = resp.TS
		f.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(f.front.Close)
	return f
}

func (f *slackFront) apiURL() string { return f.front.URL + "/" }

func (f *slackFront) hookURL(secret string) string {
	return "http://" + f.srv.ServerAddr + "/services/T000/B000/" + secret
}

func (f *slackFront) delivered() []slackPost {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []slackPost
	for _, p := range f.posts {
		if !p.limited {
			out = append(out, p)
		}
	}
	return out
}

const (
	botToken   = "xoxb-1234-secret-bot-token"
	hookSecret = "XXsecretwebhookpathXX"
)

func slackContacts(t testing.TB, f *slackFront, extra string) *Contacts {
	t.Helper()
	c, err := Parse("slack.yaml", fmt.Appendf(nil, `
channels:
  slack:
    token_env: BOT
    api_url: %s
    webhooks: {ops: OPS_HOOK, dead: DEAD_HOOK}
%s
contacts:
  - {name: soc, slack: ["#soc", "webhook:ops"]}
routes:
  - name: scans
    match: {detectors: [horizontal_scan]}
    notify: [soc]
    repeat_interval: 1m
default_route: {notify: [soc]}
channel_failure: [soc]
`, f.apiURL(), extra), mapEnv(map[string]string{
		"BOT": botToken, "OPS_HOOK": f.hookURL(hookSecret), "DEAD_HOOK": "http://127.0.0.1:1/services/" + hookSecret,
		"SMTP_PASSWORD": "s3cret-smtp-pw",
	}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSlack429 posts an incident and its repeat through the bot while
// Slack answers 429 with Retry-After: 1 twice. The waits are honoured,
// nothing is lost or doubled, the repeat is a reply in the incident's
// thread, and the webhook gets the alert once (webhooks have no threads).
func TestSlack429(t *testing.T) {
	f := newSlackFront(t)
	f.limit, f.retryAfter = 2, "1"
	c := slackContacts(t, f, "")
	s, err := NewSenders(c)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	dir := t.TempDir()
	n, err := New(c, s, Options{Outbox: dir, RetryInitial: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	scan := explained("horizontal_scan", 3, "10.0.0.5", time.Now().Add(-time.Hour))
	n.Write(ctx, []*alert.Alert{at(scan, scan.Timestamp, 1)})
	n.Flush(ctx)
	n.Write(ctx, []*alert.Alert{at(scan, scan.Timestamp.Add(2*time.Minute), 4)})
	n.Flush(ctx)
	if left := n.Drain(ctx); left != 0 {
		t.Fatalf("%d pending: %s", left, logs.String())
	}
	posts := f.delivered()
	if len(posts) != 2 {
		t.Fatalf("%d posts delivered, want the alert and one thread reply", len(posts))
	}
	f.mu.Lock()
	first429, tries := f.posts[0].at, len(f.posts)
	f.mu.Unlock()
	if tries != 4 {
		t.Errorf("%d tries, want 4 (two 429s, then the alert and its reply)", tries)
	}
	if waited := posts[0].at.Sub(first429); waited < 2*time.Second {
		t.Errorf("the alert went %s after the first 429: Retry-After 1 s was not honoured twice", waited)
	}
	alertPost, reply := posts[0].form, posts[1].form
	if alertPost.Get("channel") != "#soc" || alertPost.Get("thread_ts") != "" {
		t.Errorf("alert post: %v", alertPost)
	}
	if reply.Get("thread_ts") != posts[0].ts || reply.Get("thread_ts") == "" {
		t.Errorf("repeat not in the alert's thread: thread_ts %q, alert ts %q", reply.Get("thread_ts"), posts[0].ts)
	}
	var blocks slack.Blocks
	if err := json.Unmarshal([]byte(alertPost.Get("blocks")), &blocks); err != nil || len(blocks.BlockSet) < 3 {
		t.Fatalf("alert blocks: %v %s", err, alertPost.Get("blocks"))
	}
	if h, ok := blocks.BlockSet[0].(*slack.HeaderBlock); !ok || h.Text.Text != "HIGH: horizontal_scan by 10.0.0.5" {
		t.Errorf("header block: %#v", blocks.BlockSet[0])
	}
	if !strings.Contains(reply.Get("text"), "3 more, 4 in all") {
		t.Errorf("reply text %q", reply.Get("text"))
	}
	f.mu.Lock()
	hooks, auth := f.hooks, f.auth
	f.mu.Unlock()
	if len(hooks) != 1 || hooks[0].Blocks == nil || !strings.Contains(hooks[0].Text, "horizontal_scan 10.0.0.5") {
		t.Errorf("webhook posts: %+v", hooks)
	}
	for _, a := range auth {
		if a != botToken {
			t.Errorf("token %q", a)
		}
	}
	if !strings.Contains(logs.String(), "retry after 1s") {
		t.Errorf("the 429s are not in the log:\n%s", logs.String())
	}
	assertNoSecret(t, botToken, logs.String(), dir)
	assertNoSecret(t, hookSecret, logs.String(), dir)
}

// TestChannelFailure: with the SMTP server down for good, the email
// channel keeps failing; after fail_after the channel-failure contacts
// hear of it through Slack, once. A dead webhook's URL, a secret, appears
// in no log or outbox file.
func TestChannelFailure(t *testing.T) {
	f := newSlackFront(t)
	c := slackContacts(t, f, fmt.Sprintf(`  email: {host: 127.0.0.1, port: %d, tls: implicit, username: u, password_env: SMTP_PASSWORD, from: mlads@example.org}`, freePort(t)))
	c.People["soc"].Email = []string{"soc@example.org"}
	c.People["soc"].Slack = append(c.People["soc"].Slack, "webhook:dead")
	s, err := NewSenders(c)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	var mu sync.Mutex
	wall := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return wall }
	step := func(d time.Duration) { mu.Lock(); wall = wall.Add(d); mu.Unlock() }
	dir := t.TempDir()
	n, err := New(c, s, Options{Outbox: dir, Clock: clock, FailAfter: 5 * time.Minute, RetryInitial: time.Second, RetryMax: time.Minute,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx := context.Background()
	n.Write(ctx, []*alert.Alert{explained("beacon", 3, "10.0.0.9", wall)})
	n.Flush(ctx)
	for range 8 {
		n.Deliver(ctx)
		step(time.Minute + time.Second)
	}
	st := n.Stats()
	if st.ChannelFailureAlerts != 2 { // email, and the dead webhook
		t.Errorf("%d channel-failure alerts, want 2 (smtp and webhook)", st.ChannelFailureAlerts)
	}
	if st.ChannelsFailing["smtp"].IsZero() || st.ChannelsFailing["webhook"].IsZero() {
		t.Errorf("failing channels %v", st.ChannelsFailing)
	}
	var told int
	for _, p := range f.delivered() {
		if strings.Contains(p.form.Get("text"), "the smtp channel is failing") {
			told++
			if !strings.Contains(p.form.Get("blocks"), "messages wait in the outbox") {
				t.Errorf("failure notice blocks %s", p.form.Get("blocks"))
			}
		}
	}
	if told != 1 {
		t.Errorf("%d Slack notices of the smtp failure, want 1", told)
	}
	for _, m := range n.Pending() {
		if m.Kind == KindChannelFailure && m.Incident == "smtp" && (m.Via == "smtp" || m.Via == "gateway") {
			t.Errorf("the smtp failure notice was queued through smtp: %+v", m)
		}
	}
	if !strings.Contains(logs.String(), "[secret]") {
		t.Errorf("the dead webhook's error was not redacted in the log:\n%s", logs.String())
	}
	assertNoSecret(t, hookSecret, logs.String(), dir)
	assertNoSecret(t, "s3cret-smtp-pw", logs.String(), dir)
}
