package notify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// Slack posts Block Kit messages with slack-go: through the bot
// (chat.postMessage, to a channel or a user), where repeats and resolved
// notices are replies in the incident's thread, or through an incoming
// webhook ("webhook:NAME"), which has no threads. A 429 is retried after
// the Retry-After Slack gave.
type Slack struct {
	cfg  *SlackConfig
	api  *slack.Client
	http *http.Client
}

// NewSlack returns the Slack channel for cfg.
func NewSlack(cfg *SlackConfig) *Slack {
	hc := &http.Client{Timeout: 30 * time.Second}
	s := &Slack{cfg: cfg, http: hc}
	if cfg.bot || cfg.Token.Value() != "" {
		opts := []slack.Option{slack.OptionHTTPClient(hc)}
		if cfg.APIURL != "" {
			opts = append(opts, slack.OptionAPIURL(cfg.APIURL))
		}
		s.api = slack.New(cfg.Token.Value(), opts...)
	}
	return s
}

// Send posts m; thread, when set, makes it a reply in that thread. The
// receipt is the posted message's ts (empty for webhooks).
func (s *Slack) Send(ctx context.Context, m *Message, thread string) (string, error) {
	var blocks slack.Blocks
	if len(m.Blocks) > 0 {
		if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
			return "", &SendError{Channel: "slack", Err: err}
		}
	}
	text := m.Subject
	if text == "" {
		text = m.Text
	}
	if name, ok := strings.CutPrefix(m.To, "webhook:"); ok {
		u, ok := s.cfg.Webhooks[name]
		if !ok {
			return "", &SendError{Channel: "slack", Err: errors.New("no webhook named " + name)}
		}
		msg := &slack.WebhookMessage{Text: text}
		if len(blocks.BlockSet) > 0 {
			msg.Blocks = &blocks
		}
		err := slack.PostWebhookCustomHTTPContext(ctx, u.Value(), s.http, msg)
		if err != nil {
			return "", slackError(err)
		}
		return "", nil
	}
	if s.api == nil {
		return "", &SendError{Channel: "slack", Err: errors.New("no bot token: channels.slack.token_env")}
	}
	opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
	if len(blocks.BlockSet) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(blocks.BlockSet...))
	}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	_, ts, err := s.api.PostMessageContext(ctx, m.To, opts...)
	if err != nil {
		return "", slackError(err)
	}
	return ts, nil
}

// slackError classifies a failure: a 429 waits its Retry-After, a 5xx or
// a network error is retried, an error Slack answered (channel_not_found,
// invalid_auth) is not.
func slackError(err error) error {
	se := &SendError{Channel: "slack", Err: err, Retry: true}
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var resp slack.SlackErrorResponse
	switch {
	case errors.As(err, &rl):
		se.After = rl.RetryAfter
	case errors.As(err, &sc):
		se.Retry = sc.Code >= 500 || sc.Code == http.StatusTooManyRequests
	case errors.As(err, &resp):
		se.Retry = resp.Err == "ratelimited" || resp.Err == "service_unavailable" || resp.Err == "internal_error"
	}
	return se
}
