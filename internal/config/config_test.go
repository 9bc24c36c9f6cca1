package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/detect/behavior"
)

// TestShippedConfigsLoad loads every file in configs/ that this package
// owns: a shipped example that does not load is a bug.
func TestShippedConfigsLoad(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "configs", "mlads.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Pcap.MaxFlows != 1_000_000 || c.Pcap.UDPInactivity != time.Minute || c.Pcap.Shards != 1 {
		t.Errorf("pcap section: got %+v", c.Pcap)
	}
	// the example documents every behavioural key with its default value
	if c.Detect.Behavior != behavior.DefaultConfig() {
		t.Errorf("detect.behavior in the example:\n%+v\nwant the defaults\n%+v", c.Detect.Behavior, behavior.DefaultConfig())
	}
}

func TestDefaultsAreValid(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c, Default(); got.Pcap != want.Pcap || got.Log != want.Log {
		t.Errorf("Load(\"\") = %+v, want %+v", got, want)
	}
}

func TestEnvOverrides(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "configs", "mlads.yaml"), []string{
		"MLADS_PCAP_MAX_FLOWS=42",
		"MLADS_PCAP_UDP_INACTIVITY=30s",
		"MLADS_PCAP_SHARDS=0",
		"MLADS_RUN_INPUTS=a.log,b.log",
		"HOME=/root", // not ours: ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Pcap.MaxFlows != 42 {
		t.Errorf("max_flows = %d, want 42", c.Pcap.MaxFlows)
	}
	if c.Pcap.Shards != 0 {
		t.Errorf("shards = %d, want 0", c.Pcap.Shards)
	}
	if c.Pcap.UDPInactivity != 30*time.Second {
		t.Errorf("udp_inactivity = %s, want 30s", c.Pcap.UDPInactivity)
	}
	if strings.Join(c.Run.Inputs, " ") != "a.log b.log" {
		t.Errorf("run.inputs = %q", c.Run.Inputs)
	}
}

func TestUnknownEnvIsAnError(t *testing.T) {
	_, err := Load("", []string{"MLADS_PCAP_MAX_FLOW=1"})
	if err == nil || !strings.Contains(err.Error(), "MLADS_PCAP_MAX_FLOW names no configuration key") {
		t.Fatalf("err = %v", err)
	}
}

// TestBadConfigs loads each testdata/config/*.bad.yaml and checks the error
// names the file and the problem.
func TestBadConfigs(t *testing.T) {
	want := map[string]string{
		"unknown-key.bad.yaml":          `'pcap' has invalid keys: max_flow`,
		"negative-timeout.bad.yaml":     `pcap.udp_inactivity: -1s must be positive`,
		"negative-shards.bad.yaml":      `pcap.shards: -2 must be in [0, 64] (0 = one per core)`,
		"bad-level.bad.yaml":            `log.level: "loud" is not one of debug, info, warn, error`,
		"not-yaml.bad.yaml":             `not-yaml.bad.yaml`,
		"detect-trim.bad.yaml":          `detect.trim: 0.7 must be in [0, 0.5]`,
		"run-start-at.bad.yaml":         `run.start_at: "tail" must be "beginning" or "end"`,
		"detect-behavior.bad.yaml":      `detect.behavior.horizontal_hosts: must be positive, got 0`,
		"run-metrics-listen.bad.yaml":   `run.metrics_listen: "9464" is not host:port (host:port, e.g. 127.0.0.1:9464; empty turns the server off)`,
		"run-same-output.bad.yaml":      `run.flows_output: "out.json" is run.output too; flows and alerts need files of their own`,
		"run-model-checkpoint.bad.yaml": `run.model_checkpoint: "state/positions.json" is run.positions too`,
		"es-url-credentials.bad.yaml":   `elasticsearch.url: must not hold credentials; use the username and password_env or api_key_env keys`,
		"es-spool-policy.bad.yaml":      `elasticsearch.spool.when_full: "sometimes" is not one of block, drop_newest, drop_oldest`,
		"es-password-env.bad.yaml":      `elasticsearch.password_env: "MLADS_ES_PASSWORD" must not start with MLADS_ (those variables set configuration keys)`,
		"kafka-partial.bad.yaml":        `kafka.brokers: must list at least one host:port when kafka.topics or kafka.group is set`,
		"kafka-sasl.bad.yaml":           `kafka.sasl.mechanism: "GSSAPI-ish" is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (or empty)`,
		"kafka-group.bad.yaml":          `kafka.group: "mlads/prod" must be letters, digits, '.', '_' or '-' (it names mlads's topics)`,
		"checksums.bad.yaml":            `pcap.verify_checksums: "sometimes" must be auto, true or false`,
		"capture-fanout.bad.yaml":       `capture.fanout: 0 must be in [1, 64]`,
		"capture-cpus.bad.yaml":         `capture.cpus: [0 9999]: CPU 9999 is not one this process may run on (allowed: `,
		"kafka-interfaces.bad.yaml":     `run.interfaces: [eth0] are not captured when kafka.* is set`,
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "config", "*.bad.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(want) {
		t.Errorf("found %d bad configs, the test knows %d: keep them in step", len(files), len(want))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := Load(f, nil)
			if err == nil {
				t.Fatal("loaded without error")
			}
			w, ok := want[filepath.Base(f)]
			if !ok {
				t.Fatalf("no expected error for %s; got %v", f, err)
			}
			if !strings.Contains(err.Error(), w) || !strings.Contains(err.Error(), filepath.Base(f)) {
				t.Errorf("error %q does not contain %q and the file name", err, w)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v", err)
	}
	if _, statErr := os.Stat("nope.yaml"); statErr == nil {
		t.Fatal("unexpected file")
	}
}

// TestVerifyChecksums: pcap.verify_checksums takes YAML booleans, the word
// auto, and the same from the environment.
func TestVerifyChecksums(t *testing.T) {
	for _, tc := range []struct {
		yaml, env string
		want      Checksums
	}{
		{want: ChecksumsAuto},
		{yaml: "true", want: ChecksumsOn},
		{yaml: "false", want: ChecksumsOff},
		{yaml: "auto", want: ChecksumsAuto},
		{yaml: "true", env: "auto", want: ChecksumsAuto},
		{env: "false", want: ChecksumsOff},
	} {
		path := ""
		if tc.yaml != "" {
			path = filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte("pcap:\n  verify_checksums: "+tc.yaml+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		var env []string
		if tc.env != "" {
			env = []string{"MLADS_PCAP_VERIFY_CHECKSUMS=" + tc.env}
		}
		c, err := Load(path, env)
		if err != nil {
			t.Fatalf("yaml %q env %q: %v", tc.yaml, tc.env, err)
		}
		if c.Pcap.VerifyChecksums != tc.want {
			t.Errorf("yaml %q env %q: got %q, want %q", tc.yaml, tc.env, c.Pcap.VerifyChecksums, tc.want)
		}
	}
}

// TestKafkaEnv checks the contract scripts use: MLADS_KAFKA_BROKERS,
// _TOPICS and _GROUP turn the group on, with comma lists.
func TestKafkaEnv(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "configs", "mlads.yaml"), []string{
		"MLADS_KAFKA_BROKERS=k1:9092,k2:9093",
		"MLADS_KAFKA_TOPICS=zeek-conn,suricata-eve",
		"MLADS_KAFKA_GROUP=mlads",
		"MLADS_RUN_MODEL=m.json",
	})
	if err != nil {
		t.Fatal(err)
	}
	k := c.Kafka
	if !k.Enabled() || strings.Join(k.Brokers, " ") != "k1:9092 k2:9093" || strings.Join(k.Topics, " ") != "zeek-conn suricata-eve" || k.Group != "mlads" {
		t.Errorf("kafka = %+v", k)
	}
	if d := Default(); d.Kafka.Enabled() {
		t.Error("kafka is on by default")
	}
}

// TestKafkaExampleIsDefault: the example documents every kafka key with its
// default value.
func TestKafkaExampleIsDefault(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "configs", "mlads.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, want := c.Kafka, Default().Kafka
	if len(got.Brokers) != 0 || len(got.Topics) != 0 {
		t.Errorf("example lists brokers or topics: %+v", got)
	}
	got.Brokers, got.Topics, want.Brokers, want.Topics = nil, nil, nil, nil
	if got.Group != want.Group || got.Partitions != want.Partitions || got.Replication != want.Replication ||
		got.StateInterval != want.StateInterval || got.TLS != want.TLS || got.SASL != want.SASL {
		t.Errorf("kafka in the example:\n%+v\nwant the defaults\n%+v", got, want)
	}
}

// TestCaptureCPUsEnv: a list-valued key set from the environment is split
// at commas, for lists of numbers as for lists of strings. The CPUs are
// checked against the machine, so the test asks for CPU 0, which every
// machine has, and CPU 9999, which none lets a process use: the error names
// both, so the value was split.
func TestCaptureCPUsEnv(t *testing.T) {
	c, err := Load("", []string{"MLADS_CAPTURE_CPUS=0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Capture.CPUs) != 1 || c.Capture.CPUs[0] != 0 {
		t.Errorf("capture.cpus = %v, want [0]", c.Capture.CPUs)
	}
	_, err = Load("", []string{"MLADS_CAPTURE_CPUS=0,9999"})
	if err == nil || !strings.Contains(err.Error(), "capture.cpus: [0 9999]: CPU 9999 is not one this process may run on") {
		t.Errorf("MLADS_CAPTURE_CPUS=0,9999: err = %v", err)
	}
	c, err = Load("", []string{"MLADS_CAPTURE_CPUS="})
	if err != nil || len(c.Capture.CPUs) != 0 {
		t.Errorf("MLADS_CAPTURE_CPUS empty: cpus %v, err %v; want none", c.Capture.CPUs, err)
	}
}
