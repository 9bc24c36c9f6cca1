package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Message is one notification to one address by one channel, rendered
// and ready to send: what the outbox keeps until it is delivered.
type Message struct {
	// Key is the message's idempotency key: the same notification (the
	// same alert, repeat count or digest, to the same address) always gets
	// the same key, so it is queued and sent once.
	Key      string `json:"key"`
	Kind     string `json:"kind"`    // alert, repeat, digest, resolved, channel_failure, test
	Channel  string `json:"channel"` // email, sms or slack
	Via      string `json:"via"`     // smtp, twilio, gateway, bot or webhook
	To       string `json:"to"`      // address, phone number, Slack channel/user, or webhook name
	Contact  string `json:"contact"`
	Route    string `json:"route,omitempty"`
	Incident string `json:"incident,omitempty"` // the alert or incident ID; Slack threads hang on it
	Severity int    `json:"severity,omitempty"`
	Subject  string `json:"subject,omitempty"`
	Text     string `json:"text"` // plain text; the whole body of an SMS
	HTML     string `json:"html,omitempty"`
	// Blocks is the Slack Block Kit message, as JSON.
	Blocks  json.RawMessage `json:"blocks,omitempty"`
	Created time.Time       `json:"created"`

	durable bool // in the outbox on disk: only durable messages are sent
}

// Message kinds.
const (
	KindAlert          = "alert"
	KindRepeat         = "repeat"
	KindDigest         = "digest"
	KindResolved       = "resolved"
	KindChannelFailure = "channel_failure"
	KindTest           = "test"
)

// threaded reports whether the message is a reply in its incident's Slack
// thread.
func (m *Message) threaded() bool {
	return m.Channel == "slack" && m.Via == "bot" && (m.Kind == KindRepeat || m.Kind == KindResolved)
}

// threadKey names the Slack thread of an incident at an address.
func threadKey(incident, to string) string { return incident + "|" + to }

// messageKey derives a message's idempotency key from what identifies it.
func messageKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// SendError is a failed delivery. Retry says whether the same message may
// go through later (a timeout, a 429, a server error); After, when set,
// is how long the server asked to wait (Slack's Retry-After).
type SendError struct {
	Channel string
	Retry   bool
	After   time.Duration
	Err     error
}

func (e *SendError) Error() string {
	s := e.Channel + ": " + e.Err.Error()
	if e.After > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.After)
	}
	return s
}

func (e *SendError) Unwrap() error { return e.Err }

// retryable reports whether err is worth retrying and how long the
// server asked to wait.
func retryable(err error) (bool, time.Duration) {
	var se *SendError
	if errors.As(err, &se) {
		return se.Retry, se.After
	}
	return true, 0
}

// redactor replaces every secret in a text with "[secret]", so that no
// error a client library builds (a webhook URL in a *url.Error, a token
// echoed by a server) reaches a log, the outbox or a document.
type redactor []string

func (r redactor) String(s string) string {
	for _, sec := range r {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[secret]")
		}
	}
	return s
}

// Error returns err with its text redacted; its retry verdict is kept.
func (r redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	var se *SendError
	if errors.As(err, &se) {
		return &SendError{Channel: se.Channel, Retry: se.Retry, After: se.After, Err: errors.New(r.String(se.Err.Error()))}
	}
	return errors.New(r.String(err.Error()))
}
