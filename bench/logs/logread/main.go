// Command logread reads Zeek conn logs or Suricata EVE files with mlads'
// readers and prints how many records it read and how fast. It is the Go
// side of bench/logs/compare.sh. With -community-id it also derives each
// record's Community ID, as the writers do for logs without the column.
//
//	logread [-community-id] FILE...
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
	"github.com/mlads/mlads/internal/logline"
	"github.com/mlads/mlads/internal/zeek"
)

func main() {
	cid := flag.Bool("community-id", false, "derive the Community ID of every record, as the writers do")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: logread [-community-id] FILE...")
		os.Exit(2)
	}
	if err := run(flag.Args(), *cid); err != nil {
		fmt.Fprintln(os.Stderr, "logread:", err)
		os.Exit(1)
	}
}

func run(paths []string, cid bool) error {
	ctx := context.Background()
	var records, lines, bad int64
	var sink uint64
	var buf []byte
	emit := func(r *flow.Record) error {
		sink += r.OrigPkts // touch the record
		if cid {
			buf = r.AppendCommunityID(buf[:0])
			sink += uint64(len(buf))
		}
		return nil
	}
	var opts logline.ReadOptions
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
