package zeek_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/zeek"
)

// TestSharedLogsReformatted rewrites every TSV conn log of the shared data
// the ways other Zeek setups write the same records, and checks that each
// variant reads back as the records of the original, field by field:
//
//   - the columns in a random order (header and rows alike), as a Zeek
//     with other scripts or a log shipper's field selection leaves them;
//   - CRLF line ends;
//   - gzip, as Zeek's logger rotates them;
//   - Zeek's JSON, one object a line, with the columns' own values.
//
// Held-out logs are read by format, not by file: this runs the fast TSV
// path and its word caches over every real log in other column orders.
func TestSharedLogsReformatted(t *testing.T) {
	data := sharedData(t)
	rng := rand.New(rand.NewPCG(7, 7))
	logs, records := 0, 0
	for _, path := range connLogs(t, data) {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		header, rows, ok := splitTSV(raw)
		if !ok {
			continue // JSON, CSV or header-row logs: not TSV with #fields
		}
		rel, _ := filepath.Rel(data, path)
		want := readRecords(t, rel, raw)
		if len(want) == 0 {
			continue
		}
		logs++
		records += len(want)

		perm := rng.Perm(len(header.fields))
		variants := map[string][]byte{
			"shuffled columns": shuffledTSV(header, rows, perm),
			"crlf":             bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n")),
			"zeek json":        zeekJSON(t, header, rows),
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(raw)
		zw.Close()
		gzPath := filepath.Join(t.TempDir(), "conn.log.gz")
		if err := os.WriteFile(gzPath, gz.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		var fromGz []flow.Record
		if _, err := zeek.ReadFile(context.Background(), gzPath, func(r *flow.Record) error {
			fromGz = append(fromGz, *r)
			return nil
		}); err != nil {
			t.Fatalf("%s gzip: %v", rel, err)
		}
		compare(t, rel+" gzip", fromGz, want)
		for name, text := range variants {
			compare(t, rel+" "+name, readRecords(t, rel+" "+name, text), want)
		}
	}
	if logs == 0 {
		t.Skip("no TSV conn logs in the shared data")
	}
	t.Logf("%d TSV conn logs, %d records, each read back alike in 4 other forms", logs, records)
}

// logHeader is what the variants need of a TSV log's header.
type logHeader struct {
	lines  []string // every header line but #fields and #types
	fields []string
	types  []string
}

// splitTSV splits a TSV log into its header and data rows; ok is false
// for anything else.
func splitTSV(raw []byte) (h logHeader, rows [][]string, ok bool) {
	for _, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "#separator"):
			if l != `#separator \x09` {
				return h, nil, false
			}
			h.lines = append(h.lines, l)
		case strings.HasPrefix(l, "#fields\t"):
			h.fields = strings.Split(l, "\t")[1:]
		case strings.HasPrefix(l, "#types\t"):
			h.types = strings.Split(l, "\t")[1:]
		case strings.HasPrefix(l, "#"):
			h.lines = append(h.lines, l)
		case l == "":
		default:
			cols := strings.Split(l, "\t")
			if len(cols) != len(h.fields) {
				return h, nil, false // a log with bad lines on purpose, or combined columns
			}
			rows = append(rows, cols)
		}
	}
	return h, rows, len(h.fields) > 0 && len(h.types) == len(h.fields)
}

func shuffledTSV(h logHeader, rows [][]string, perm []int) []byte {
	pick := func(cols []string) string {
		out := make([]string, len(perm))
		for i, p := range perm {
			out[i] = cols[p]
		}
		return strings.Join(out, "\t")
	}
	var b strings.Builder
	for _, l := range h.lines {
		if !strings.HasPrefix(l, "#close") {
			b.WriteString(l + "\n")
		}
	}
	b.WriteString("#fields\t" + pick(h.fields) + "\n#types\t" + pick(h.types) + "\n")
	for _, r := range rows {
		b.WriteString(pick(r) + "\n")
	}
	return []byte(b.String())
}

// zeekJSON writes rows as Zeek's JSON writer would: unset values left
// out, counts, ports and times as numbers, sets as arrays, strings quoted.
// Only plain values are supported; a row with an escape fails the test.
func zeekJSON(t *testing.T, h logHeader, rows [][]string) []byte {
	var b bytes.Buffer
	for _, r := range rows {
		b.WriteByte('{')
		n := 0
		for i, v := range r {
			if v == "-" || h.types[i] == "time" && strings.Contains(v, "X") {
				continue // unset, or a ts masked by Zeek's test harness (no number to write)
			}
			if n++; n > 1 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:", h.fields[i])
			switch typ := h.types[i]; {
			case typ == "time" || typ == "interval" || typ == "count" || typ == "port" || typ == "double" || typ == "int":
				b.WriteString(v)
			case typ == "bool":
				b.WriteString(map[string]string{"T": "true", "F": "false"}[v])
			case strings.HasPrefix(typ, "set[") || strings.HasPrefix(typ, "vector["):
				b.WriteByte('[')
				if v != "(empty)" {
					for k, e := range strings.Split(v, ",") {
						if k > 0 {
							b.WriteByte(',')
						}
						fmt.Fprintf(&b, "%q", e)
					}
				}
				b.WriteByte(']')
			default:
				if v == "(empty)" {
					v = ""
				}
				fmt.Fprintf(&b, "%q", v)
			}
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

// readRecords parses text with parseAll, failing the test on any error.
func readRecords(t *testing.T, name string, text []byte) []flow.Record {
	t.Helper()
	recs, errs := parseAll(t, string(text))
	for _, err := range errs {
		t.Errorf("%s: %v", name, err)
	}
	return recs
}

func compare(t *testing.T, name string, got, want []flow.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d records, want %d", name, len(got), len(want))
		return
	}
	bad := 0
	for i := range got {
		if g, w := fmt.Sprintf("%+v", got[i]), fmt.Sprintf("%+v", want[i]); g != w {
			if bad++; bad <= 3 {
				t.Errorf("%s record %d:\n got %s\nwant %s", name, i, g, w)
			}
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d records differ", name, bad)
	}
}
