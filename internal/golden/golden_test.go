package golden

import (
	"path/filepath"
	"testing"
)

// recorder keeps the errors Check reports, so the test can look at them.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, format)
}

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "want.txt")
	*update = true
	Check(t, path, []byte("a\nb\n"))
	*update = false

	Check(t, path, []byte("a\nb\n")) // equal: no error

	r := &recorder{TB: t}
	Check(r, path, []byte("a\nc\nd\n"))
	if len(r.errs) != 2 {
		t.Errorf("Check reported %d differing lines, want 2 (line 2 changed, line 3 added)", len(r.errs))
	}
}
