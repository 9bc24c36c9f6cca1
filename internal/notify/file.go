package notify

import "time"

// The contacts file as written: decoded strictly (unknown keys are
// errors), then checked and compiled into Contacts by compile. Field names
// are the YAML keys; README "Contacts and notifications" documents them.

type file struct {
	Channels       fileChannels            `yaml:"channels"`
	Schedules      map[string]fileSchedule `yaml:"schedules"`
	Contacts       []fileContact           `yaml:"contacts"`
	Groups         []fileGroup             `yaml:"groups"`
	Routes         []fileRoute             `yaml:"routes"`
	DefaultRoute   *fileRoute              `yaml:"default_route"`
	ChannelFailure []string                `yaml:"channel_failure"`
}

type fileChannels struct {
	Email *fileEmail `yaml:"email"`
	SMS   *fileSMS   `yaml:"sms"`
	Slack *fileSlack `yaml:"slack"`
}

type fileEmail struct {
	Host               string `yaml:"host"`
	Port               int    `yaml:"port"`
	TLS                string `yaml:"tls"` // starttls (default), implicit, none
	Username           string `yaml:"username"`
	PasswordEnv        string `yaml:"password_env"`
	From               string `yaml:"from"`
	CAFile             string `yaml:"ca_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

type fileSMS struct {
	Twilio  *fileTwilio  `yaml:"twilio"`
	Gateway *fileGateway `yaml:"gateway"`
}

type fileTwilio struct {
	AccountSID          string `yaml:"account_sid"`
	AuthTokenEnv        string `yaml:"auth_token_env"`
	From                string `yaml:"from"`
	MessagingServiceSID string `yaml:"messaging_service_sid"`
	BaseURL             string `yaml:"base_url"`
}

type fileGateway struct {
	Domain string `yaml:"domain"`
}

type fileSlack struct {
	TokenEnv string            `yaml:"token_env"`
	APIURL   string            `yaml:"api_url"`
	Webhooks map[string]string `yaml:"webhooks"` // name → environment variable holding the URL
}

type fileSchedule struct {
	Timezone       string      `yaml:"timezone"`
	QuietHours     []fileQuiet `yaml:"quiet_hours"`
	ExceptSeverity string      `yaml:"except_severity"`
}

type fileQuiet struct {
	Days []string `yaml:"days"`
	From string   `yaml:"from"`
	To   string   `yaml:"to"`
}

type fileContact struct {
	Name     string   `yaml:"name"`
	Email    []string `yaml:"email"`
	Phone    []string `yaml:"phone"`
	Slack    []string `yaml:"slack"`
	SMSVia   string   `yaml:"sms_via"` // twilio or gateway
	Schedule string   `yaml:"schedule"`
}

type fileGroup struct {
	Name     string   `yaml:"name"`
	Members  []string `yaml:"members"`
	Email    []string `yaml:"email"`
	Slack    []string `yaml:"slack"`
	Schedule string   `yaml:"schedule"`
}

type fileRoute struct {
	Name           string        `yaml:"name"`
	Match          fileMatch     `yaml:"match"`
	Notify         []string      `yaml:"notify"`
	Channels       []string      `yaml:"channels"`
	Continue       bool          `yaml:"continue"`
	Schedule       string        `yaml:"schedule"`
	Throttle       *fileThrottle `yaml:"throttle"`
	RepeatInterval time.Duration `yaml:"repeat_interval"`
	Digest         time.Duration `yaml:"digest"`
	ResolveAfter   time.Duration `yaml:"resolve_after"`
}

type fileMatch struct {
	MinSeverity string   `yaml:"min_severity"`
	Detectors   []string `yaml:"detectors"`
	Rules       []string `yaml:"rules"`
	Src         []string `yaml:"src"`
	Dst         []string `yaml:"dst"`
	Sensors     []string `yaml:"sensors"`
	Tags        []string `yaml:"tags"`
}

type fileThrottle struct {
	Max int           `yaml:"max"`
	Per time.Duration `yaml:"per"`
}
