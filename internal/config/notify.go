package config

import (
	"fmt"
	"net/url"
	"time"
)

// Notify configures notification of contacts by email, SMS and Slack
// (internal/notify). It is off while Contacts is empty.
type Notify struct {
	// Contacts is the contacts file (configs/contacts.yaml): people,
	// groups, channels, routes and schedules. Empty turns notification off.
	Contacts string `mapstructure:"contacts"`
	// Outbox is the directory where pending notifications and the noise
	// control's state are kept across restarts.
	Outbox string `mapstructure:"outbox"`
	// KibanaURL, when set, makes every message link to its alert in Kibana
	// (for example https://kibana.example.org:5601).
	KibanaURL string `mapstructure:"kibana_url"`
	// FailAfter is how long a channel may keep failing before it raises
	// an alert of its own through the other channels.
	FailAfter time.Duration `mapstructure:"fail_after"`
	// DrainTimeout bounds how long a batch command (`mlads analyze`) waits
	// at its end for pending notifications to go out; what is still
	// pending then stays in the outbox for the next run.
	DrainTimeout time.Duration `mapstructure:"drain_timeout"`
}

func defaultNotify() Notify {
	return Notify{
		Outbox:       "mlads-outbox",
		FailAfter:    10 * time.Minute,
		DrainTimeout: 30 * time.Second,
	}
}

func (n *Notify) validate() []error {
	var errs []error
	if n.Contacts != "" && n.Outbox == "" {
		errs = append(errs, fmt.Errorf("notify.outbox: must not be empty when notify.contacts is set"))
	}
	if n.KibanaURL != "" {
		u, err := url.Parse(n.KibanaURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("notify.kibana_url: %q is not an http(s) URL", n.KibanaURL))
		}
	}
	if n.FailAfter <= 0 {
		errs = append(errs, fmt.Errorf("notify.fail_after: %s must be positive", n.FailAfter))
	}
	if n.DrainTimeout < 0 {
		errs = append(errs, fmt.Errorf("notify.drain_timeout: %s must not be negative", n.DrainTimeout))
	}
	return errs
}
