package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/alert"
)

// fakeTwilio serves Twilio's Messages API as its documentation describes
// it: POST /2010-04-01/Accounts/{AccountSid}/Messages.json with form
// fields To, From or MessagingServiceSid, and Body; HTTP basic auth with
// the account SID and auth token; 201 Created with the JSON message
// resource; errors as {code, message, more_info, status}.
type fakeTwilio struct {
	sid, token string
	mu         sync.Mutex
	got        []map[string]string
	limit      int // answer this many requests with 429 first
	srv        *httptest.Server
}

func newFakeTwilio(t testing.TB, sid, token string) *fakeTwilio {
	f := &fakeTwilio{sid: sid, token: token}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func twilioError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"code": code, "message": msg, "more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status,
	})
}

func (f *fakeTwilio) serve(w http.ResponseWriter, r *http.Request) {
	path := "/2010-04-01/Accounts/" + f.sid + "/Messages.json"
	if r.URL.Path != path {
		twilioError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if r.Method != http.MethodPost {
		twilioError(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != f.sid || p != f.token {
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		twilioError(w, http.StatusBadRequest, 20001, "Content-Type must be application/x-www-form-urlencoded, not "+ct)
		return
	}
	if err := r.ParseForm(); err != nil {
		twilioError(w, http.StatusBadRequest, 20001, err.Error())
		return
	}
	f.mu.Lock()
	limited := f.limit > 0
	if limited {
		f.limit--
	}
	f.mu.Unlock()
	if limited {
		twilioError(w, http.StatusTooManyRequests, 20429, "Too Many Requests")
		return
	}
	to, from, mss, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("MessagingServiceSid"), r.PostForm.Get("Body")
	switch {
	case to == "":
		twilioError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case !phoneRE.MatchString(to) || to == "+15005550001":
		twilioError(w, http.StatusBadRequest, 21211, "Invalid 'To' Phone Number: "+to)
		return
	case from == "" && mss == "":
		twilioError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case body == "":
		twilioError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	case len(body) > 1600:
		twilioError(w, http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.")
		return
	}
	segments := 1
	if len(body) > 160 {
		segments = (len(body) + 152) / 153
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	msid := "SM" + hex.EncodeToString(b)
	f.mu.Lock()
	f.got = append(f.got, map[string]string{"To": to, "From": from, "MessagingServiceSid": mss, "Body": body})
	f.mu.Unlock()
	now := time.Now().UTC().Format(time.RFC1123Z)
	uri := "/2010-04-01/Accounts/" + f.sid + "/Messages/" + msid
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"account_sid": f.sid, "api_version": "2010-04-01", "body": body, "date_created": now, "date_sent": nil,
		"date_updated": now, "direction": "outbound-api", "error_code": nil, "error_message": nil, "from": from,
		"messaging_service_sid": nilIfEmpty(mss), "num_media": "0", "num_segments": fmt.Sprint(segments), "price": nil,
		"price_unit": "USD", "sid": msid, "status": "queued", "to": to, "uri": uri + ".json",
		"subresource_uris": map[string]string{"media": uri + "/Media.json"},
	})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// TestTwilio sends SMS through twilio-go to the fake: the form, the
// credentials, one segment; a 429 is retried, a bad number is not.
func TestTwilio(t *testing.T) {
	const sid, token = "AC0123456789abcdef0123456789abcdef", "authtokenSECRET0123456789abcdef"
	f := newFakeTwilio(t, sid, token)
	f.limit = 1
	c, err := Parse("sms.yaml", fmt.Appendf(nil, `
channels:
  sms:
    twilio: {account_sid: %s, auth_token_env: TW_TOKEN, from: "+15005550006", base_url: %s}
contacts:
  - {name: oncall, phone: ["+15551230001", "+15005550001"]}
default_route: {notify: [oncall]}
`, sid, f.srv.URL), mapEnv(map[string]string{"TW_TOKEN": token}))
	if err != nil {
		t.Fatal(err)
	}
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
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := explained("horizontal_scan", 4, "10.0.0.5", t0)
	a.MLADS.Summary = strings.Repeat("a very long summary → with arrows ± and more ", 10)
	n.Write(ctx, []*alert.Alert{a})
	n.Flush(ctx)
	if left := n.Drain(ctx); left != 0 {
		t.Fatalf("%d pending", left)
	}
	st := n.Stats()
	if st.Sent != 1 || st.Failed != 1 {
		t.Errorf("sent %d failed %d, want 1 and 1 (the invalid number, not retried)", st.Sent, st.Failed)
	}
	f.mu.Lock()
	got := f.got
	f.mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("twilio got %d messages: %v", len(got), got)
	}
	m := got[0]
	if m["To"] != "+15551230001" || m["From"] != "+15005550006" {
		t.Errorf("form %v", m)
	}
	body := m["Body"]
	if len(body) > 160 || !strings.HasPrefix(body, "CRITICAL 10.0.0.5 horizontal_scan Dec 2 14:00Z sensor-1: ") || strings.ContainsAny(body, "→±") {
		t.Errorf("body is not one GSM-7 segment with severity, host, what and when: %d chars %q", len(body), body)
	}
	if !strings.Contains(logs.String(), "21211") || !strings.Contains(logs.String(), "20429") {
		t.Errorf("log lacks Twilio's error codes:\n%s", logs.String())
	}
	assertNoSecret(t, token, logs.String(), dir)
}

// TestGatewaySMS sends an SMS through an email-to-SMS gateway: a text
// mail to number@domain, through mailpit.
func TestGatewaySMS(t *testing.T) {
	mp := newMailpit(t)
	mp.start()
	c, err := Parse("gw.yaml", fmt.Appendf(nil, `
channels:
  email: {host: 127.0.0.1, port: %d, from: mlads@example.org, ca_file: %s}
  sms: {gateway: {domain: sms.example.net}}
contacts:
  - {name: oncall, phone: ["+15551230002"]}
default_route: {notify: [oncall]}
`, mp.smtpPort, mp.cert), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSenders(c)
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(c, s, Options{Outbox: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n.Write(ctx, []*alert.Alert{explained("syn_flood", 3, "10.0.0.7", t0)})
	n.Flush(ctx)
	if left := n.Drain(ctx); left != 0 {
		t.Fatalf("%d pending", left)
	}
	msgs := mp.messages()
	if len(msgs) != 1 || msgs[0].To[0].Address != "15551230002@sms.example.net" {
		t.Fatalf("gateway mails: %+v", msgs)
	}
	full := mp.message(msgs[0].ID)
	if text := strings.TrimSpace(full.Text); len(text) > 160 || !strings.HasPrefix(text, "HIGH 10.0.0.7 syn_flood Dec 2 14:00Z") || full.HTML != "" {
		t.Errorf("gateway SMS body %q (html %q)", text, full.HTML)
	}
}
