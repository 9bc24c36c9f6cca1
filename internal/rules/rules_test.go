package rules

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/alert"
)

func TestExampleRules(t *testing.T) {
	s, err := Load(filepath.Join("..", "..", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rules) != 3 {
		t.Fatalf("%d rules", len(s.Rules))
	}
}

func TestBadRules(t *testing.T) {
	want := map[string]string{
		"no-owner.bad.yaml":    "no-owner.bad.yaml:2: rules[0].owner: every rule needs an owner",
		"bad-expiry.bad.yaml":  `bad-expiry.bad.yaml:6: rules[0].expires: "next week" is not a date (2027-06-30) or an RFC 3339 time`,
		"unknown-key.bad.yaml": "unknown-key.bad.yaml:8: rules[0].match.detector: unknown key",
		"bad-kind.bad.yaml":    `bad-kind.bad.yaml:3: rules[0].kind: "ignore" must be allow, suppress or severity`,
		"match-all.bad.yaml":   "match-all.bad.yaml:2: rules[0].match: matches every alert; say what it is for",
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "rules", "*.bad.yaml"))
	if len(files) != len(want) {
		t.Errorf("%d bad rule files, the test knows %d", len(files), len(want))
	}
	for _, f := range files {
		_, err := Load(f)
		w := want[filepath.Base(f)]
		if err == nil || w == "" || strings.TrimPrefix(err.Error(), "rules: "+filepath.Dir(f)+"/") != w {
			t.Errorf("%s:\n-got  %v\n+want %s", filepath.Base(f), err, w)
		}
	}
}

func TestApply(t *testing.T) {
	s, err := Load(filepath.Join("..", "..", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	mk := func(det, src, dst string, port int, ts string) *alert.Alert {
		at, _ := time.Parse(time.RFC3339, ts)
		a := &alert.Alert{Timestamp: at, Source: &alert.Endpoint{IP: src}, Destination: &alert.Endpoint{IP: dst, Port: port}}
		a.MLADS.Detector = det
		return a
	}
	tests := []struct {
		name string
		a    *alert.Alert
		want Decision
	}{
		{"backup in its window", mk("volume", "10.0.5.10", "203.0.113.9", 873, "2026-12-02T01:30:00Z"), Decision{SuppressedBy: "offsite-backup"}},
		{"backup outside its window", mk("volume", "10.0.5.10", "203.0.113.9", 873, "2026-12-02T12:00:00Z"), Decision{}},
		{"backup on another port", mk("volume", "10.0.5.10", "203.0.113.9", 443, "2026-12-02T01:30:00Z"), Decision{}},
		{"scanner", mk("horizontal_scan", "10.0.9.5", "10.0.0.1", 445, "2026-12-02T12:00:00Z"), Decision{SuppressedBy: "vuln-scanner"}},
		{"scanner after expiry", mk("horizontal_scan", "10.0.9.5", "10.0.0.1", 445, "2027-02-01T00:00:00Z"), Decision{}},
		{"scanner on its last day", mk("horizontal_scan", "10.0.9.5", "10.0.0.1", 445, "2027-01-31T23:59:00Z"), Decision{SuppressedBy: "vuln-scanner"}},
		{"ntp override", mk("beacon", "10.1.0.5", "10.0.0.1", 123, "2026-12-02T12:00:00Z"), Decision{Severity: 1, OverrideBy: "ntp-clockwork"}},
	}
	for _, tt := range tests {
		if got := s.Apply(tt.a); got != tt.want {
			t.Errorf("%s: -got %+v +want %+v", tt.name, got, tt.want)
		}
	}
	exp := s.Expired(time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC))
	if len(exp) != 1 || exp[0].ID != "vuln-scanner" {
		t.Errorf("expired: %v", exp)
	}
}
