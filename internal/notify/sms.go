package notify

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twilio/twilio-go"
	twclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// Twilio sends SMS through Twilio's Messages API with twilio-go: To,
// From (or MessagingServiceSid) and Body, authenticated with the account
// SID and auth token.
type Twilio struct {
	cfg    *TwilioConfig
	client *twilio.RestClient
}

// NewTwilio returns the Twilio channel for cfg. When cfg.BaseURL is set,
// requests for api.twilio.com go there instead.
func NewTwilio(cfg *TwilioConfig) *Twilio {
	hc := &http.Client{Timeout: 30 * time.Second}
	if cfg.BaseURL != "" {
		u, _ := url.Parse(cfg.BaseURL) // checked when the file was loaded
		hc.Transport = rebase{to: u, next: http.DefaultTransport}
	}
	c := &twclient.Client{Credentials: twclient.NewCredentials(cfg.AccountSID, cfg.AuthToken.Value()), HTTPClient: hc}
	c.SetAccountSid(cfg.AccountSID)
	return &Twilio{cfg: cfg, client: twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})}
}

// rebase sends every request to another scheme and host, keeping the path.
type rebase struct {
	to   *url.URL
	next http.RoundTripper
}

func (r rebase) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.to.Scheme, r.to.Host
	req.URL.Path = strings.TrimSuffix(r.to.Path, "/") + req.URL.Path
	req.Host = r.to.Host
	return r.next.RoundTrip(req)
}

// Send texts m.Text to m.To.
func (t *Twilio) Send(ctx context.Context, m *Message, _ string) (string, error) {
	p := &openapi.CreateMessageParams{}
	p.SetTo(m.To)
	p.SetBody(m.Text)
	if t.cfg.MessagingServiceSID != "" {
		p.SetMessagingServiceSid(t.cfg.MessagingServiceSID)
	} else {
		p.SetFrom(t.cfg.From)
	}
	type result struct {
		sid string
		err error
	}
	done := make(chan result, 1)
	go func() { // twilio-go takes no context; the call is bounded by the client's timeout
		resp, err := t.client.Api.CreateMessage(p)
		r := result{err: err}
		if err == nil && resp.Sid != nil {
			r.sid = *resp.Sid
		}
		done <- r
	}()
	select {
	case <-ctx.Done():
		return "", &SendError{Channel: "sms", Retry: true, Err: ctx.Err()}
	case r := <-done:
		if r.err != nil {
			return "", &SendError{Channel: "sms", Retry: twilioRetryable(r.err), Err: r.err}
		}
		return r.sid, nil
	}
}

// twilioRetryable: Twilio's 429 and 5xx may pass later, other 4xx (a bad
// number, a bad credential) will not; network errors may.
func twilioRetryable(err error) bool {
	var te *twclient.TwilioRestError
	if errors.As(err, &te) {
		return te.Status == http.StatusTooManyRequests || te.Status >= 500
	}
	return true // the network, or an answer that was not Twilio's
}
