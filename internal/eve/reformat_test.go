package eve_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/eve"
	"github.com/mlads/mlads/internal/flow"
)

// TestSharedEVEReformatted re-encodes every event of the shared EVE files
// with encoding/json (members sorted by name at every level, numbers kept
// exact, spacing gone) and checks that the flows read back are the
// original's, field by field: the reader depends on the members, not on
// the order or layout Suricata happened to write them in.
func TestSharedEVEReformatted(t *testing.T) {
	data := sharedData(t)
	for _, rel := range []string{
		"suricata-eve/menna-islam-zeus/eve.json",
		"slips-dataset/test6-malicious.suricata.json",
	} {
		raw, err := os.ReadFile(filepath.Join(data, rel))
		if err != nil {
			t.Fatal(err)
		}
		var sorted bytes.Buffer
		for _, l := range bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n")) {
			d := json.NewDecoder(bytes.NewReader(l))
			d.UseNumber()
			var m map[string]any
			if err := d.Decode(&m); err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			out, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			sorted.Write(out)
			sorted.WriteByte('\n')
		}
		want, got := parseEVE(t, rel, raw), parseEVE(t, rel+" (sorted)", sorted.Bytes())
		if len(got) != len(want) || len(want) == 0 {
			t.Fatalf("%s: %d records re-encoded, %d as written", rel, len(got), len(want))
		}
		for i := range got {
			if g, w := fmt.Sprintf("%+v", got[i]), fmt.Sprintf("%+v", want[i]); g != w {
				t.Errorf("%s record %d:\n got %s\nwant %s", rel, i, g, w)
			}
		}
		t.Logf("%s: %d flows read alike from the re-encoded events", rel, len(want))
	}
}

// parseEVE reads the lines of text as the readers do (feed) and flushes
// the halves left waiting at the end.
func parseEVE(t *testing.T, name string, text []byte) []flow.Record {
	t.Helper()
	p := eve.NewParser(name)
	out := feed(t, p, strings.Split(strings.TrimSuffix(string(text), "\n"), "\n"))
	if err := p.Pairer().Flush(collect(&out)); err != nil {
		t.Fatal(err)
	}
	return out
}
