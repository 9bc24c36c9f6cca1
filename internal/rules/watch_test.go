package rules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/alert"
)

type collect struct{ got []*alert.Alert }

func (c *collect) Write(_ context.Context, d []*alert.Alert) (bool, error) {
	c.got = append(c.got, d...)
	return false, nil
}
func (c *collect) Flush(context.Context) (bool, error) { return false, nil }

// TestWatch: Mark with a Watcher picks up changed rule files; a bad file
// is refused with its error and the last good rules stay in force.
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.yaml")
	write := func(src string, age time.Duration) {
		t.Helper()
		if err := os.WriteFile(path, fmt.Appendf(nil, "rules:\n  - {id: x, kind: suppress, owner: a, reason: r, expires: 2030-01-01, match: {src: [%s]}}\n", src), 0o600); err != nil {
			t.Fatal(err)
		}
		mt := time.Now().Add(age)
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	write("10.0.0.1", -time.Hour)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	wall := time.Now()
	w := NewWatcher(s, []string{dir}, func(err error) { errs = append(errs, err) })
	w.Clock = func() time.Time { return wall }
	out := &collect{}
	m := &Mark{Watch: w, Next: out}
	a := func(src string) *alert.Alert {
		x := &alert.Alert{Timestamp: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), Source: &alert.Endpoint{IP: src}}
		return x
	}
	suppressed := func() string {
		var s []string
		for _, d := range out.got {
			if d.MLADS.SuppressedBy != "" {
				s = append(s, d.Source.IP)
			}
		}
		out.got = nil
		return strings.Join(s, ",")
	}
	m.Write(context.Background(), []*alert.Alert{a("10.0.0.1"), a("10.0.0.2")})
	if got := suppressed(); got != "10.0.0.1" {
		t.Fatalf("first rules: suppressed %q", got)
	}
	write("10.0.0.2", 0)
	wall = wall.Add(2 * time.Second)
	m.Write(context.Background(), []*alert.Alert{a("10.0.0.1"), a("10.0.0.2")})
	if got := suppressed(); got != "10.0.0.2" || w.Loads() != 1 {
		t.Fatalf("changed rules: suppressed %q, %d loads", got, w.Loads())
	}
	write("10.0.0.300", time.Hour)
	wall = wall.Add(2 * time.Second)
	m.Write(context.Background(), []*alert.Alert{a("10.0.0.1"), a("10.0.0.2")})
	if got := suppressed(); got != "10.0.0.2" {
		t.Fatalf("after a bad file the last good rules should apply: suppressed %q", got)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `r.yaml:2: rules[0].match: src[0]: "10.0.0.300" is not a CIDR prefix or address`) {
		t.Fatalf("refusal: %v", errs)
	}
	wall = wall.Add(2 * time.Second)
	m.Write(context.Background(), []*alert.Alert{a("10.0.0.2")})
	if len(errs) != 1 {
		t.Errorf("the same bad file was reported again: %v", errs)
	}
}
