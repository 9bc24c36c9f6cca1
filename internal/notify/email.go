package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
)

// Email sends messages over SMTP with go-mail: STARTTLS (required, not
// opportunistic), implicit TLS or plain, with authentication when a
// username is set. Each message carries a Message-ID derived from its
// idempotency key, so a receiving system can tell a resend.
type Email struct {
	cfg *EmailConfig
	tls *tls.Config
}

// NewEmail returns the email channel for cfg.
func NewEmail(cfg *EmailConfig) (*Email, error) {
	tc := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // set only by the contacts file, for test servers
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("email: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("email: %s: no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	return &Email{cfg: cfg, tls: tc}, nil
}

func (e *Email) client() (*mail.Client, error) {
	opts := []mail.Option{mail.WithPort(e.cfg.Port), mail.WithTimeout(30 * time.Second), mail.WithTLSConfig(e.tls)}
	switch e.cfg.TLS {
	case "implicit":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if e.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(e.cfg.Username), mail.WithPassword(e.cfg.Password.Value()))
	}
	return mail.NewClient(e.cfg.Host, opts...)
}

// Send sends m to m.To: text and, when m has one, HTML as alternatives.
func (e *Email) Send(ctx context.Context, m *Message, _ string) (string, error) {
	msg := mail.NewMsg()
	if err := msg.From(e.cfg.From); err != nil {
		return "", &SendError{Channel: "email", Err: err}
	}
	if err := msg.To(m.To); err != nil {
		return "", &SendError{Channel: "email", Err: err}
	}
	msg.Subject(m.Subject)
	id := m.Key + "@mlads"
	msg.SetMessageIDWithValue(id)
	msg.SetDate()
	msg.SetGenHeader("X-Mlads-Kind", m.Kind)
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	c, err := e.client()
	if err != nil {
		return "", &SendError{Channel: "email", Err: err}
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return "", &SendError{Channel: "email", Retry: emailRetryable(err), Err: err}
	}
	return "<" + id + ">", nil
}

// emailRetryable: a 5xx reply (a rejected recipient, failed
// authentication) will fail again; anything else (a refused connection,
// a 4xx, a timeout) may not.
func emailRetryable(err error) bool {
	var se *mail.SendError
	if errors.As(err, &se) {
		if code := se.ErrorCode(); code >= 500 && code < 600 {
			return false
		}
		if se.Reason == mail.ErrSMTPMailFrom || se.Reason == mail.ErrSMTPRcptTo {
			return se.IsTemp()
		}
	}
	return true
}

// Gateway sends an SMS as an email to an email-to-SMS gateway: a text
// to +15551234567 is mailed to 15551234567@Domain, body only.
type Gateway struct {
	Email  *Email
	Domain string
}

// Send mails m's text to the gateway address of m.To.
func (g *Gateway) Send(ctx context.Context, m *Message, _ string) (string, error) {
	mm := *m
	mm.To = strings.TrimPrefix(m.To, "+") + "@" + g.Domain
	mm.HTML = ""
	return g.Email.Send(ctx, &mm, "")
}
