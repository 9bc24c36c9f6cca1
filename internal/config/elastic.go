package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Elastic configures the Elasticsearch output (`elasticsearch.*`). It is
// off while URL is empty. Secrets are never in the file: PasswordEnv and
// APIKeyEnv name the environment variables that hold them.
type Elastic struct {
	// URL of the cluster ("https://es:9200"); empty turns the output off.
	URL string `mapstructure:"url"`
	// Username for basic authentication; its password is in $PasswordEnv.
	Username    string `mapstructure:"username"`
	PasswordEnv string `mapstructure:"password_env"`
	// APIKeyEnv names the variable holding an API key (the base64
	// "id:key" Kibana shows); it wins over the username when set.
	APIKeyEnv string `mapstructure:"api_key_env"`
	// CAFile is a PEM file of the CAs to trust; Fingerprint the hex
	// SHA-256 of the server's certificate (what Elasticsearch prints at
	// its first start), an alternative to CAFile.
	CAFile      string `mapstructure:"ca_file"`
	Fingerprint string `mapstructure:"fingerprint"`
	// Namespace is the data streams' namespace: logs-mlads.alert-<namespace>.
	Namespace string `mapstructure:"namespace"`
	// Retention is how long documents are kept before the lifecycle
	// policy deletes them, in Elasticsearch's units ("90d", "12h").
	Retention string `mapstructure:"retention"`
	// Workers and FlushBytes size the bulk writer; FlushInterval bounds
	// how long a document waits in a batch.
	Workers       int           `mapstructure:"workers"`
	FlushBytes    int           `mapstructure:"flush_bytes"`
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// Timeout bounds one request.
	Timeout time.Duration `mapstructure:"timeout"`
	// RetryTimeout bounds how long a flush retries 429s and 5xx before it
	// spools what is left.
	RetryTimeout time.Duration `mapstructure:"retry_timeout"`
	// DeadLetter is the JSON-lines file of documents the cluster refused
	// for good (mapping errors), with the reason.
	DeadLetter string `mapstructure:"dead_letter"`
	Spool      Spool  `mapstructure:"spool"`
}

// Spool configures the on-disk spool that holds documents while the
// cluster is unreachable.
type Spool struct {
	Dir      string `mapstructure:"dir"`
	MaxBytes int64  `mapstructure:"max_bytes"`
	// WhenFull is "block" (the sink reports a retryable error and the
	// daemon stops committing, so its input is read again later: nothing
	// is lost), "drop_newest" or "drop_oldest" (counted).
	WhenFull string `mapstructure:"when_full"`
	// ReplayInterval is how often a flush checks whether the cluster is
	// back while documents wait in the spool.
	ReplayInterval time.Duration `mapstructure:"replay_interval"`
}

// Values of Spool.WhenFull.
const (
	SpoolBlock      = "block"
	SpoolDropNewest = "drop_newest"
	SpoolDropOldest = "drop_oldest"
)

// Kibana configures where `mlads setup` imports the dashboards
// (`kibana.*`). It uses the Elasticsearch credentials unless it has its own.
type Kibana struct {
	// URL of Kibana ("https://kibana:5601"); empty skips the import.
	URL string `mapstructure:"url"`
	// Space is the Kibana space to import into; empty is the default space.
	Space string `mapstructure:"space"`
	// Username, PasswordEnv and APIKeyEnv as for elasticsearch; empty
	// means the elasticsearch ones.
	Username    string `mapstructure:"username"`
	PasswordEnv string `mapstructure:"password_env"`
	APIKeyEnv   string `mapstructure:"api_key_env"`
	CAFile      string `mapstructure:"ca_file"`
	// Dashboards is a folder of saved-object files (*.ndjson) to import
	// instead of the ones built into mlads (empty).
	Dashboards string `mapstructure:"dashboards"`
}

func defaultElastic() Elastic {
	return Elastic{
		PasswordEnv:   "ES_PASSWORD",
		APIKeyEnv:     "ES_API_KEY",
		Namespace:     "default",
		Retention:     "90d",
		Workers:       2,
		FlushBytes:    1 << 20,
		FlushInterval: time.Second,
		Timeout:       30 * time.Second,
		RetryTimeout:  30 * time.Second,
		DeadLetter:    "mlads-dead-letter.ndjson",
		Spool: Spool{
			Dir:            "mlads-spool",
			MaxBytes:       1 << 30,
			WhenFull:       SpoolBlock,
			ReplayInterval: 10 * time.Second,
		},
	}
}

func defaultKibana() Kibana {
	return Kibana{}
}

var (
	esDuration = regexp.MustCompile(`^[1-9][0-9]*(d|h|m|s)$`)
	// A data stream namespace: lower case, no '-' (Elastic's naming scheme).
	namespaceRE = regexp.MustCompile(`^[a-z0-9_.]{1,100}$`)
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	hexFP       = regexp.MustCompile(`^[0-9A-Fa-f:]{64,95}$`)
)

func (e *Elastic) validate() []error {
	var errs []error
	errs = append(errs, validateURL("elasticsearch.url", e.URL)...)
	errs = append(errs, validateEnvName("elasticsearch.password_env", e.PasswordEnv)...)
	errs = append(errs, validateEnvName("elasticsearch.api_key_env", e.APIKeyEnv)...)
	if !namespaceRE.MatchString(e.Namespace) {
		errs = append(errs, fmt.Errorf("elasticsearch.namespace: %q must be lower-case letters, digits, '_' or '.'", e.Namespace))
	}
	if !esDuration.MatchString(e.Retention) {
		errs = append(errs, fmt.Errorf("elasticsearch.retention: %q must be a number and a unit d, h, m or s (90d)", e.Retention))
	}
	if e.Fingerprint != "" && !hexFP.MatchString(e.Fingerprint) {
		errs = append(errs, fmt.Errorf("elasticsearch.fingerprint: must be the hex SHA-256 of the certificate (64 hex digits, colons allowed)"))
	}
	if e.Workers < 1 || e.Workers > 64 {
		errs = append(errs, fmt.Errorf("elasticsearch.workers: %d must be in [1, 64]", e.Workers))
	}
	if e.FlushBytes < 4096 {
		errs = append(errs, fmt.Errorf("elasticsearch.flush_bytes: %d must be at least 4096", e.FlushBytes))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"elasticsearch.flush_interval", e.FlushInterval}, {"elasticsearch.timeout", e.Timeout},
		{"elasticsearch.retry_timeout", e.RetryTimeout}, {"elasticsearch.spool.replay_interval", e.Spool.ReplayInterval}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: %s must be positive", d.key, d.v))
		}
	}
	if e.DeadLetter == "" {
		errs = append(errs, fmt.Errorf("elasticsearch.dead_letter: must not be empty"))
	}
	if e.Spool.Dir == "" {
		errs = append(errs, fmt.Errorf("elasticsearch.spool.dir: must not be empty"))
	}
	if e.Spool.MaxBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("elasticsearch.spool.max_bytes: %d must be at least 1048576", e.Spool.MaxBytes))
	}
	switch e.Spool.WhenFull {
	case SpoolBlock, SpoolDropNewest, SpoolDropOldest:
	default:
		errs = append(errs, fmt.Errorf("elasticsearch.spool.when_full: %q is not one of %s, %s, %s",
			e.Spool.WhenFull, SpoolBlock, SpoolDropNewest, SpoolDropOldest))
	}
	return errs
}

func (k *Kibana) validate() []error {
	var errs []error
	errs = append(errs, validateURL("kibana.url", k.URL)...)
	errs = append(errs, validateEnvName("kibana.password_env", k.PasswordEnv)...)
	errs = append(errs, validateEnvName("kibana.api_key_env", k.APIKeyEnv)...)
	if strings.ContainsAny(k.Space, "/ ") {
		errs = append(errs, fmt.Errorf("kibana.space: %q must be a space ID (no '/' or spaces)", k.Space))
	}
	return errs
}

// validateURL accepts an empty URL (the output is off) or an http(s) URL
// without credentials; its message never repeats a password.
func validateURL(key, s string) []error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return []error{fmt.Errorf("%s: not a URL", key)}
	}
	if u.User != nil {
		return []error{fmt.Errorf("%s: must not hold credentials; use the username and password_env or api_key_env keys", key)}
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return []error{fmt.Errorf("%s: %q must be an http:// or https:// URL with a host", key, s)}
	}
	return nil
}

// validateEnvName checks the name of a variable holding a secret. Names
// starting with MLADS_ are refused: those name configuration keys.
func validateEnvName(key, name string) []error {
	if name == "" {
		return nil
	}
	if !envNameRE.MatchString(name) {
		return []error{fmt.Errorf("%s: %q is not an environment variable name", key, name)}
	}
	if strings.HasPrefix(name, EnvPrefix+"_") {
		return []error{fmt.Errorf("%s: %q must not start with %s_ (those variables set configuration keys)", key, name, EnvPrefix)}
	}
	return nil
}
