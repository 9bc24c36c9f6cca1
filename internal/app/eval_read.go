package app

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mlads/mlads/internal/flow"
)

// readLabelled reads a labelled conn log (plain or gzip): Zeek TSV with
// the Stratosphere `label`/`detailedlabel` columns (or IoT-23's
// space-separated last three), Zeek JSON lines with the same fields, or the
// IoT-23 CSV form (a header row with Zeek's column names plus `label`,
// `detailed-label`).
// Record.Label is "class/detail" ("Malicious/C&C"), or just the class.
//
// The evaluation reads labelled sets itself, so that it depends only on
// the label columns it documents; the commands read through the input
// package.
func readLabelled(ctx context.Context, path string) ([]flow.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	defer func() { _ = f.Close() }() // read only: nothing to lose
	var r io.Reader = f
	br := bufio.NewReaderSize(r, 1<<16)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("eval: %s: %w", path, err)
		}
		defer func() { _ = zr.Close() }()
		br = bufio.NewReaderSize(zr, 1<<16)
	}
	first, _ := br.Peek(1)
	switch {
	case len(first) == 1 && first[0] == '#':
		return readLabelledTSV(ctx, path, br)
	case len(first) == 1 && first[0] == '{':
		return readLabelledJSON(ctx, path, br)
	}
	return readLabelledCSV(ctx, path, br)
}

// readLabelledJSON reads Zeek JSON lines with label fields.
func readLabelledJSON(ctx context.Context, path string, br *bufio.Reader) ([]flow.Record, error) {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	var out []flow.Record
	line := 0
	for sc.Scan() {
		line++
		if line%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			return nil, fmt.Errorf("eval: %s line %d: %w", path, line, err)
		}
		cols := make([]string, 0, len(obj))
		vals := make([]string, 0, len(obj))
		for k, v := range obj {
			var s string
			switch v := v.(type) {
			case string:
				s = v
			case float64:
				s = strconv.FormatFloat(v, 'f', -1, 64)
			case bool:
				s = strconv.FormatBool(v)
			default:
				continue // sets (tunnel_parents) and nulls are not needed here
			}
			cols, vals = append(cols, k), append(vals, s)
		}
		rec, err := recordFrom(cols, vals, "-", "(empty)")
		if err != nil {
			return nil, fmt.Errorf("eval: %s line %d: %w", path, line, err)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("eval: %s line %d: %w", path, line, err)
	}
	return out, nil
}

func readLabelledTSV(ctx context.Context, path string, br *bufio.Reader) ([]flow.Record, error) {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	var cols []string
	spaced := -1 // index of the first space-separated column, -1 when none
	var out []flow.Record
	line := 0
	for sc.Scan() {
		line++
		if line%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		if b[0] == '#' {
			if rest, ok := bytes.CutPrefix(b, []byte("#fields\t")); ok {
				cols = strings.Split(string(rest), "\t")
				// IoT-23's conn.log.labeled ends with one tab-less column
				// "tunnel_parents   label   detailed-label" (spaces)
				if last := cols[len(cols)-1]; strings.Contains(last, " ") {
					spaced = len(cols) - 1
					cols = append(cols[:spaced], strings.Fields(last)...)
				}
			}
			continue
		}
		if cols == nil {
			return nil, fmt.Errorf("eval: %s line %d: data before the #fields header", path, line)
		}
		vals := strings.Split(string(b), "\t")
		if spaced >= 0 && len(vals) == spaced+1 {
			vals = append(vals[:spaced], strings.Fields(vals[spaced])...)
		}
		rec, err := recordFrom(cols, vals, "-", "(empty)")
		if err != nil {
			return nil, fmt.Errorf("eval: %s line %d: %w", path, line, err)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("eval: %s line %d: %w", path, line, err)
	}
	return out, nil
}

func readLabelledCSV(ctx context.Context, path string, br *bufio.Reader) ([]flow.Record, error) {
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("eval: %s: header: %w", path, err)
	}
	cols := append([]string(nil), head...)
	var out []flow.Record
	for line := 2; ; line++ {
		vals, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("eval: %s line %d: %w", path, line, err)
		}
		if line%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rec, err := recordFrom(cols, vals, "", "-")
		if err != nil {
			return nil, fmt.Errorf("eval: %s line %d: %w", path, line, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// recordFrom builds a Record from named columns; unset and empty are the
// values that stand for "no value".
func recordFrom(cols, vals []string, unset, empty string) (flow.Record, error) {
	var r flow.Record
	r.Source = flow.SourceZeek
	var label, detail string
	for i, c := range cols {
		if i >= len(vals) {
			break
		}
		v := vals[i]
		if v == unset || v == empty || v == "-" {
			continue
		}
		var err error
		switch c {
		case "ts":
			var s float64
			s, err = strconv.ParseFloat(v, 64)
			sec, frac := math.Modf(s)
			r.TS = time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC()
		case "uid":
			r.UID = v
		case "id.orig_h":
			r.OrigH, err = netip.ParseAddr(v)
		case "id.orig_p":
			r.OrigP, err = parseU16(v)
		case "id.resp_h":
			r.RespH, err = netip.ParseAddr(v)
		case "id.resp_p":
			r.RespP, err = parseU16(v)
		case "proto":
			r.Proto = v
		case "service":
			r.Service = v
		case "duration":
			var s float64
			s, err = strconv.ParseFloat(v, 64)
			r.Duration = time.Duration(math.Round(s * 1e9))
		case "orig_bytes":
			r.OrigBytes, err = strconv.ParseUint(v, 10, 64)
		case "resp_bytes":
			r.RespBytes, err = strconv.ParseUint(v, 10, 64)
		case "conn_state":
			r.ConnState = v
		case "missed_bytes":
			r.MissedBytes, err = strconv.ParseUint(v, 10, 64)
		case "history":
			r.History = v
		case "orig_pkts":
			r.OrigPkts, err = strconv.ParseUint(v, 10, 64)
		case "orig_ip_bytes":
			r.OrigIPBytes, err = strconv.ParseUint(v, 10, 64)
		case "resp_pkts":
			r.RespPkts, err = strconv.ParseUint(v, 10, 64)
		case "resp_ip_bytes":
			r.RespIPBytes, err = strconv.ParseUint(v, 10, 64)
		case "label":
			label = v
		case "detailedlabel", "detailed-label", "detailed_label":
			detail = v
		}
		if err != nil {
			return r, fmt.Errorf("column %s: %q: %w", c, v, err)
		}
	}
	r.Label = label
	if detail != "" {
		r.Label = label + "/" + detail
	}
	return r, nil
}

func parseU16(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err
}

// malicious reports whether a label marks an attack; Benign, Background
// and Unknown all count as not malicious.
func malicious(label string) bool {
	return len(label) >= 9 && strings.EqualFold(label[:9], "malicious")
}
