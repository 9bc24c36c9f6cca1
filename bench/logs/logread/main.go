// Command logread reads Zeek conn logs or Suricata EVE files with mlads'
// readers and prints how many records it read and how fast. It is the Go
// side of bench/logs/compare.sh.
//
//	logread [-no-community-id] FILE...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/mlads/mlads/internal/eve"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/input"
	"github.com/mlads/mlads/internal/zeek"
)

func main() {
	noCID := flag.Bool("no-community-id", false, "do not compute Community IDs missing from the logs")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: logread [-no-community-id] FILE...")
		os.Exit(2)
	}
	if err := run(flag.Args(), !*noCID); err != nil {
		fmt.Fprintln(os.Stderr, "logread:", err)
		os.Exit(1)
	}
}

func run(paths []string, cid bool) error {
	ctx := context.Background()
	var records, lines, bad int64
	var sink uint64
	emit := func(r *flow.Record) error {
		sink += r.OrigPkts // touch the record
		return nil
	}
	start := time.Now()
	for _, p := range paths {
		format, err := input.Detect(p)
		if err != nil {
			return err
		}
		switch format {
		case input.EVE:
			st, err := readEVE(ctx, p, cid, emit)
			if err != nil {
				return err
			}
			records, lines, bad = records+st.Records, lines+st.Lines, bad+st.Bad
		case input.ZeekTSV, input.ZeekJSON:
			st, err := readZeek(ctx, p, cid, emit)
			if err != nil {
				return err
			}
			records, lines, bad = records+st.Records, lines+st.Lines, bad+st.Bad
		default:
			return fmt.Errorf("%s: %v is not a log", p, format)
		}
	}
	el := time.Since(start)
	fmt.Printf("lines=%d records=%d bad=%d seconds=%.3f lines_per_s=%.0f\n",
		lines, records, bad, el.Seconds(), float64(lines)/el.Seconds())
	_ = sink
	return nil
}

// readZeek is zeek.ReadFile with the Community ID switch.
func readZeek(ctx context.Context, path string, cid bool, emit func(*flow.Record) error) (zeek.Stats, error) {
	var st zeek.Stats
	rc, err := zeek.Open(path)
	if err != nil {
		return st, err
	}
	defer func() { _ = rc.Close() }() // read only: nothing to lose
	p := zeek.NewParser(path)
	p.ComputeCommunityID = cid
	var r flow.Record
	err = zeek.EachLine(ctx, rc, func(line []byte, tooLong bool) error {
		st.Lines++
		ok, err := p.ParseLine(line, &r)
		switch {
		case err != nil:
			st.AddBad(err)
		case ok:
			st.Records++
			return emit(&r)
		}
		return nil
	})
	return st, err
}

// readEVE is eve.ReadFile with the Community ID switch.
func readEVE(ctx context.Context, path string, cid bool, emit func(*flow.Record) error) (zeek.Stats, error) {
	var st zeek.Stats
	rc, err := zeek.Open(path)
	if err != nil {
		return st, err
	}
	defer func() { _ = rc.Close() }() // read only: nothing to lose
	p := eve.NewParser(path)
	p.ComputeCommunityID = cid
	var r flow.Record
	err = zeek.EachLine(ctx, rc, func(line []byte, tooLong bool) error {
		st.Lines++
		ok, err := p.ParseLine(line, &r)
		switch {
		case err != nil:
			st.AddBad(err)
		case ok:
			st.Records++
			return emit(&r)
		}
		return nil
	})
	if err == nil {
		err = p.Flush(func(r *flow.Record) error { st.Records++; return emit(r) })
	}
	return st, err
}
