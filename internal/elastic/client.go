package elastic

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
)

// Options configure a Client. They are plain values: internal/app builds
// them from config.Elastic and reads the secrets from the environment.
type Options struct {
	URL      string
	Username string
	Password string // secret: never logged, never in an error
	APIKey   string // secret: never logged, never in an error
	// CAFile is a PEM file of the CAs to trust; Fingerprint the hex SHA-256
	// of the server's certificate.
	CAFile      string
	Fingerprint string
	// Namespace is the data streams' namespace ("default").
	Namespace string
	// Retention is the lifecycle policy's delete age ("90d").
	Retention string
	// Timeout bounds one request; 0 means 30 s.
	Timeout time.Duration
	// Transport replaces the HTTP transport (tests inject faults with it).
	Transport http.RoundTripper
}

// Client is a connection to one cluster: the go-elasticsearch client and
// the names of mlads's data streams and indices in it.
type Client struct {
	es    *elasticsearch.Client
	opts  Options
	names Names
	// secrets are scrubbed from every error message as a last resort.
	secrets []string
}

// Names are the data streams and indices mlads writes to.
type Names struct {
	Alerts    string // data stream of alerts: logs-mlads.alert-<namespace>
	Health    string // data stream of sensor health: metrics-mlads.health-<namespace>
	Incidents string // prefix of the monthly incident indices: mlads-incident-<namespace>-
}

// NamesFor returns the names used for a namespace.
func NamesFor(namespace string) Names {
	if namespace == "" {
		namespace = "default"
	}
	return Names{
		Alerts:    "logs-mlads.alert-" + namespace,
		Health:    "metrics-mlads.health-" + namespace,
		Incidents: "mlads-incident-" + namespace + "-",
	}
}

// New returns a client for the cluster. It does not connect: Ping does.
func New(o Options) (*Client, error) {
	if o.URL == "" {
		return nil, errors.New("elastic: no URL configured (elasticsearch.url)")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	c := &Client{opts: o, names: NamesFor(o.Namespace)}
	for _, s := range []string{o.Password, o.APIKey} {
		if s != "" {
			c.secrets = append(c.secrets, s)
		}
	}
	cfg := elasticsearch.Config{
		Addresses:              []string{o.URL},
		Username:               o.Username,
		Password:               o.Password,
		APIKey:                 o.APIKey,
		CertificateFingerprint: strings.ToUpper(strings.ReplaceAll(o.Fingerprint, ":", "")),
		// Retries are ours (the sink knows which items failed and why); the
		// transport's would resend whole bulk requests.
		DisableRetry: true,
		Transport:    o.Transport,
	}
	if o.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = o.Timeout
		t.MaxIdleConnsPerHost = 16
		cfg.Transport = t
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("elastic: CA file: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("elastic: CA file %s: no PEM certificate in it", o.CAFile)
		}
		cfg.CACert = pem
	}
	es, err := elasticsearch.NewClient(cfg)
	if err != nil {
		return nil, c.scrub(fmt.Errorf("elastic: %s: %w", c.where(), err))
	}
	c.es = es
	return c, nil
}

// Names returns the data streams and indices the client writes to.
func (c *Client) Names() Names { return c.names }

// where names the cluster in messages: its URL without credentials.
func (c *Client) where() string {
	u, err := url.Parse(c.opts.URL)
	if err != nil {
		return "elasticsearch"
	}
	u.User = nil
	return u.Redacted()
}

// Ping checks that the cluster answers and that the credentials are
// accepted; its error names the cause (unreachable, TLS, credentials).
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.do(ctx, "connect", esapi.InfoRequest{})
	return err
}

// do performs a request and decodes nothing: it returns the body of a 2xx
// response, or an *Error.
func (c *Client) do(ctx context.Context, op string, req esapi.Request) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	res, err := req.Do(ctx, c.es)
	if err != nil {
		return nil, c.transportError(op, err)
	}
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, c.transportError(op, err)
	}
	if res.IsError() {
		return body, c.statusError(op, res.StatusCode, res.Header, body)
	}
	return body, nil
}

// Error is a failed request, with whether trying again may succeed.
type Error struct {
	Op     string // what was being done: "connect", "put index template logs-mlads.alert"
	Where  string // the cluster's URL, without credentials
	Status int    // HTTP status; 0 when no response came
	// Type and Reason are Elasticsearch's error.type and error.reason.
	Type, Reason string
	// Unreachable means no HTTP response came at all (refused, reset,
	// timeout, DNS): the spool's case.
	Unreachable bool
	// Retry says whether the same request may succeed later: 429, 5xx,
	// and no response at all.
	Retry bool
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
	Err        error
}

// Error says where, what and why, without secrets.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "elastic: %s: %s: ", e.Where, e.Op)
	switch {
	case e.Status == 0:
		b.WriteString(e.Err.Error())
	default:
		fmt.Fprintf(&b, "HTTP %d", e.Status)
		if hint := statusHint(e.Status); hint != "" {
			b.WriteString(" (" + hint + ")")
		}
		if e.Type != "" {
			b.WriteString(": " + e.Type)
		}
		if e.Reason != "" {
			b.WriteString(": " + e.Reason)
		}
	}
	return b.String()
}

// Unwrap returns the transport's error, when no response came.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether err, or an *Error in its chain, is worth
// retrying; unknown errors are not.
func Retryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retry
}

func statusHint(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication failed: check the username and password or API key"
	case http.StatusForbidden:
		return "the user lacks a privilege for this"
	case http.StatusTooManyRequests:
		return "the cluster is overloaded"
	}
	return ""
}

// statusError builds the Error of a non-2xx response.
func (c *Client) statusError(op string, status int, h http.Header, body []byte) error {
	e := &Error{Op: op, Where: c.where(), Status: status, Retry: status == http.StatusTooManyRequests || status >= 500}
	e.Type, e.Reason = errorReason(body)
	if ra := h.Get("Retry-After"); ra != "" {
		var secs int
		if _, err := fmt.Sscanf(ra, "%d", &secs); err == nil && secs > 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	e.Reason = c.scrubString(e.Reason)
	return e
}

// transportError builds the Error of a request that got no response, and
// names the cause when it is a known one.
func (c *Client) transportError(op string, err error) error {
	e := &Error{Op: op, Where: c.where(), Unreachable: true, Retry: true}
	var (
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		certInv    x509.CertificateInvalidError
		dnsErr     *net.DNSError
		opErr      *net.OpError
		errno      syscall.Errno
		urlErr     *url.Error
		cause      string
		permanent  bool
		underlying = err
	)
	switch {
	case errors.As(err, &unknownCA):
		cause, permanent = "TLS: the server's certificate is not signed by a trusted CA (set elasticsearch.ca_file or fingerprint)", true
	case errors.As(err, &hostErr):
		cause, permanent = "TLS: the certificate is not valid for this host name", true
	case errors.As(err, &certInv):
		cause, permanent = "TLS: the server's certificate is invalid", true
	case strings.Contains(err.Error(), "fingerprint mismatch"):
		cause, permanent = "TLS: the server's certificate does not match elasticsearch.fingerprint", true
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		cause, permanent = "TLS: the server speaks plain HTTP; use an http:// URL", true
	case strings.Contains(err.Error(), "first record does not look like a TLS handshake"):
		cause, permanent = "TLS: the server speaks plain HTTP; use an http:// URL", true
	case strings.Contains(err.Error(), "not Elasticsearch"):
		cause, permanent = "the server is not Elasticsearch", true
	case errors.As(err, &dnsErr):
		cause = "unreachable: cannot resolve host " + dnsErr.Name
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		cause = "unreachable: no answer within the timeout"
	case errors.Is(err, context.Canceled):
		cause, permanent = "canceled", true
	case errors.As(err, &errno):
		cause = "unreachable: " + errno.Error()
	case errors.As(err, &opErr):
		cause = "unreachable: " + opErr.Err.Error()
	}
	if errors.As(err, &urlErr) {
		underlying = urlErr.Err
	}
	if cause == "" {
		cause = "unreachable: " + underlying.Error()
	}
	if permanent {
		e.Retry, e.Unreachable = false, false
	}
	e.Err = errors.New(c.scrubString(cause))
	return e
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// scrub removes the secrets from an error's message as a last resort;
// messages are built without them in the first place.
func (c *Client) scrub(err error) error {
	if err == nil {
		return nil
	}
	s := c.scrubString(err.Error())
	if s == err.Error() {
		return err
	}
	return errors.New(s)
}

func (c *Client) scrubString(s string) string {
	for _, sec := range c.secrets {
		s = strings.ReplaceAll(s, sec, "[redacted]")
	}
	return s
}
