package config

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"time"
)

// Kafka configures `mlads run` as a member of a consumer group on Kafka
// (`kafka.*`). It is off while Brokers, Topics and Group are all empty;
// then nothing changes. Secrets are never in the file: SASL.PasswordEnv
// names the environment variable that holds the password.
type Kafka struct {
	// Brokers are the bootstrap brokers, host:port each.
	Brokers []string `mapstructure:"brokers"`
	// Topics are the topics of Zeek JSON logs and EVE JSON events to read.
	Topics []string `mapstructure:"topics"`
	// Group is the consumer group the processes share. It also names
	// mlads's own topics: <group>.flows (the flows keyed by host) and
	// <group>.state (the detectors' state, compacted).
	Group string `mapstructure:"group"`
	// Partitions is how many partitions mlads's own topics get when it
	// creates them: the most processes that can detect in parallel.
	Partitions int `mapstructure:"partitions"`
	// Replication is their replication factor.
	Replication int `mapstructure:"replication"`
	// StateInterval is how often (of wall-clock time) each partition's
	// detector state is written to <group>.state, inside the transaction
	// that commits its input: a partition that moves restarts from it.
	StateInterval time.Duration `mapstructure:"state_interval"`
	TLS           KafkaTLS      `mapstructure:"tls"`
	SASL          KafkaSASL     `mapstructure:"sasl"`
}

// KafkaTLS configures TLS to the brokers.
type KafkaTLS struct {
	// Enabled turns TLS on; with no CAFile the system's CAs are trusted.
	Enabled bool `mapstructure:"enabled"`
	// CAFile is a PEM file of the CAs to trust.
	CAFile string `mapstructure:"ca_file"`
	// CertFile and KeyFile are the client's certificate and key (PEM),
	// for brokers that authenticate clients by certificate.
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

// KafkaSASL configures SASL authentication.
type KafkaSASL struct {
	// Mechanism is "" (none), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string `mapstructure:"mechanism"`
	Username  string `mapstructure:"username"`
	// PasswordEnv names the environment variable holding the password.
	PasswordEnv string `mapstructure:"password_env"`
}

// Values of KafkaSASL.Mechanism.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Enabled reports whether the daemon reads Kafka.
func (k *Kafka) Enabled() bool {
	return len(k.Brokers) > 0 || len(k.Topics) > 0 || k.Group != ""
}

func defaultKafka() Kafka {
	return Kafka{
		Partitions:    12,
		Replication:   1,
		StateInterval: 10 * time.Second,
		SASL:          KafkaSASL{PasswordEnv: "KAFKA_PASSWORD"},
	}
}

// A topic or group name Kafka accepts (legal characters, at most 249).
var kafkaName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,200}$`)

func (k *Kafka) validate() []error {
	var errs []error
	errs = append(errs, validateEnvName("kafka.sasl.password_env", k.SASL.PasswordEnv)...)
	switch k.SASL.Mechanism {
	case "":
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if k.SASL.Username == "" {
			errs = append(errs, fmt.Errorf("kafka.sasl.username: must be set with kafka.sasl.mechanism %s", k.SASL.Mechanism))
		}
		if k.SASL.PasswordEnv == "" {
			errs = append(errs, fmt.Errorf("kafka.sasl.password_env: must name the variable holding the password for kafka.sasl.mechanism %s", k.SASL.Mechanism))
		}
	default:
		errs = append(errs, fmt.Errorf("kafka.sasl.mechanism: %q is not one of %s, %s, %s (or empty)",
			k.SASL.Mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512))
	}
	if (k.TLS.CertFile == "") != (k.TLS.KeyFile == "") {
		errs = append(errs, fmt.Errorf("kafka.tls.cert_file and kafka.tls.key_file: set both or neither"))
	}
	if !k.TLS.Enabled && (k.TLS.CAFile != "" || k.TLS.CertFile != "") {
		errs = append(errs, fmt.Errorf("kafka.tls.enabled: must be true when kafka.tls.ca_file or kafka.tls.cert_file is set"))
	}
	if k.Partitions < 1 || k.Partitions > 10000 {
		errs = append(errs, fmt.Errorf("kafka.partitions: %d must be in [1, 10000]", k.Partitions))
	}
	if k.Replication < 1 || k.Replication > 32 {
		errs = append(errs, fmt.Errorf("kafka.replication: %d must be in [1, 32]", k.Replication))
	}
	if k.StateInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("kafka.state_interval: %s must be at least 100ms", k.StateInterval))
	}
	if !k.Enabled() {
		return errs
	}
	if len(k.Brokers) == 0 {
		errs = append(errs, fmt.Errorf("kafka.brokers: must list at least one host:port when kafka.topics or kafka.group is set"))
	}
	for _, b := range k.Brokers {
		host, port, err := net.SplitHostPort(b)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("kafka.brokers: %q is not host:port", b))
		}
	}
	if len(k.Topics) == 0 {
		errs = append(errs, fmt.Errorf("kafka.topics: must list at least one topic when kafka.brokers or kafka.group is set"))
	}
	for _, t := range k.Topics {
		if !kafkaName.MatchString(t) {
			errs = append(errs, fmt.Errorf("kafka.topics: %q is not a topic name (letters, digits, '.', '_', '-')", t))
		}
	}
	switch {
	case k.Group == "":
		errs = append(errs, fmt.Errorf("kafka.group: must be set when kafka.brokers or kafka.topics is set"))
	case !kafkaName.MatchString(k.Group):
		errs = append(errs, fmt.Errorf("kafka.group: %q must be letters, digits, '.', '_' or '-' (it names mlads's topics)", k.Group))
	}
	return errs
}
