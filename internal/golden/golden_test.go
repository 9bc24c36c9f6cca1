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

// TestCheckBinary: content that is not text is reported once, by size and
// first differing byte, not as lines.
func TestCheckBinary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "want.bin")
	*update = true
	Check(t, path, []byte{0xd4, 0xc3, 0xb2, 0xa1, 0, 1, 0xff})
	*update = false

	Check(t, path, []byte{0xd4, 0xc3, 0xb2, 0xa1, 0, 1, 0xff}) // equal: no error

	r := &recorder{TB: t}
	Check(r, path, []byte{0xd4, 0xc3, 0xb2, 0xa1, 0, 2, 0xff, '\n', 0xfe})
	if len(r.errs) != 1 {
		t.Errorf("Check reported %d differences for binary content, want 1", len(r.errs))
	}
}
