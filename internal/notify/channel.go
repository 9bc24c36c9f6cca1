package notify

import "context"

// Sender delivers one rendered message. thread, for a Slack reply, is
// the timestamp of the message it answers; receipt is what the service
// returned to remember (Slack's ts, Twilio's SID, the email's Message-ID).
// A failure is a *SendError saying whether to retry.
type Sender interface {
	Send(ctx context.Context, m *Message, thread string) (receipt string, err error)
}

// Senders are the channels a Notifier delivers through, by Message.Via:
// "smtp", "gateway", "twilio", "bot", "webhook". A nil entry means the
// channel is not configured.
type Senders map[string]Sender

// NewSenders builds the channels the contacts file configures.
func NewSenders(c *Contacts) (Senders, error) {
	s := Senders{}
	if c.Email != nil {
		e, err := NewEmail(c.Email)
		if err != nil {
			return nil, err
		}
		s["smtp"] = e
		if c.Gateway != nil {
			s["gateway"] = &Gateway{Email: e, Domain: c.Gateway.Domain}
		}
	}
	if c.Twilio != nil {
		s["twilio"] = NewTwilio(c.Twilio)
	}
	if c.Slack != nil {
		sl := NewSlack(c.Slack)
		if c.Slack.bot {
			s["bot"] = sl
		}
		if len(c.Slack.Webhooks) > 0 {
			s["webhook"] = sl
		}
	}
	return s, nil
}
