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
	opts := zeek.ReadOptions{NoCommunityID: !cid}
	start := time.Now()
	for _, p := range paths {
		format, err := input.Detect(p)
		if err != nil {
			return err
		}
		switch format {
		case input.EVE:
			st, err := eve.ReadFileWith(ctx, p, opts, emit)
			if err != nil {
				return err
			}
			records, lines, bad = records+st.Records, lines+st.Lines, bad+st.Bad
		case input.ZeekTSV, input.ZeekJSON:
			st, err := zeek.ReadFileWith(ctx, p, opts, emit)
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
