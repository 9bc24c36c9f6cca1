package app

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/config"
)

// TestKafkaOptions: the SASL password comes from the variable
// kafka.sasl.password_env names and never appears in an error; a TLS CA
// file that holds no certificate is named in the error.
func TestKafkaOptions(t *testing.T) {
	const secret = "s3cret-pass"
	cfg := config.Default()
	cfg.Kafka.Brokers, cfg.Kafka.Topics, cfg.Kafka.Group = []string{"k:9092"}, []string{"conn"}, "mlads"
	cfg.Kafka.SASL = config.KafkaSASL{Mechanism: config.SASLScramSHA512, Username: "mlads", PasswordEnv: "KAFKA_TEST_PASSWORD"}
	d := NewDaemon(cfg, io.Discard, slog.New(slog.DiscardHandler))
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if _, err := kafkaOptions(d, getenv); err == nil || !strings.Contains(err.Error(), "$KAFKA_TEST_PASSWORD (kafka.sasl.password_env) is empty") {
		t.Errorf("no password: err = %v", err)
	}
	env["KAFKA_TEST_PASSWORD"] = secret
	o, err := kafkaOptions(d, getenv)
	if err != nil || o.Password != secret || o.Mechanism != config.SASLScramSHA512 || o.Group != "mlads" {
		t.Fatalf("options %+v, err %v", o, err)
	}

	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate "+secret), 0o600); err != nil {
		t.Fatal(err)
	}
	d.all.Kafka.TLS = config.KafkaTLS{Enabled: true, CAFile: ca}
	_, err = kafkaOptions(d, getenv)
	if err == nil || !strings.Contains(err.Error(), ca) || strings.Contains(err.Error(), secret) {
		t.Errorf("bad CA file: err = %v", err)
	}
}

// TestCutPartialLine: a group member's output loses the partial last line
// a killed process left, and nothing else.
func TestCutPartialLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"{\"a\":1}\n", "{\"a\":1}\n"},
		{"{\"a\":1}\n{\"b\":", "{\"a\":1}\n"},
		{"{\"b\":", ""},
		{strings.Repeat("x", 70<<10) + "\n" + strings.Repeat("y", 70<<10), strings.Repeat("x", 70<<10) + "\n"},
	} {
		p := filepath.Join(t.TempDir(), "out.ndjson")
		if err := os.WriteFile(p, []byte(c.in), 0o644); err != nil {
			t.Fatal(err)
		}
		o, err := openOut(p, io.Discard, "", 0, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if err := o.cutPartialLine(slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Write([]byte("{\"c\":3}\n")); err != nil {
			t.Fatal(err)
		}
		if err := o.close(); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		if string(got) != c.want+"{\"c\":3}\n" {
			t.Errorf("%.20q...: got %.40q...", c.in, got)
		}
	}
}
