package app

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlads/mlads/internal/benchmeter"
	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/tail"
	"github.com/mlads/mlads/internal/zeek"
)

const benchFlows = 200_000

// BenchmarkRunFollow compares, on the same Zeek TSV conn.log in one run,
// the daemon's path (tail → zeek.Parser → JSON lines file, with positions
// committed) against the batch path (zeek.ReadFile → the same JSON lines
// file). Reported: wall and CPU lines/s.
func BenchmarkRunFollow(b *testing.B) {
	dir := b.TempDir()
	logPath := filepath.Join(dir, "conn.log")
	buf := []byte(connHeader)
	for i := range benchFlows {
		buf = appendConnLine(buf, i)
	}
	if err := os.WriteFile(logPath, buf, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("batch", func(b *testing.B) {
		benchmeter.Repeat(b, int64(len(buf)), benchFlows, "lines", func() int64 {
			out, err := os.Create(filepath.Join(b.TempDir(), "out.ndjson"))
			if err != nil {
				b.Fatal(err)
			}
			defer out.Close()
			w := bufio.NewWriterSize(out, 256<<10)
			var line []byte
			var n int64
			_, err = zeek.ReadFile(context.Background(), logPath, func(r *flow.Record) error {
				line = append(flow.AppendJSON(line[:0], r), '\n')
				n++
				_, err := w.Write(line)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			return n
		})
	})
	b.Run("follow", func(b *testing.B) {
		benchmeter.Repeat(b, int64(len(buf)), benchFlows, "lines", func() int64 {
			d := b.TempDir()
			cfg := config.Run{Inputs: []string{logPath}, Output: filepath.Join(d, "out.ndjson"),
				Positions: filepath.Join(d, "positions.json"), MaxLineBytes: 1 << 20}
			s := newRunSink(cfg, nil, slog.New(slog.DiscardHandler))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			t, err := tail.New(tail.Config{Inputs: cfg.Inputs, Positions: cfg.Positions},
				func(cp []byte) (tail.Sink, error) {
					if _, err := s.open(cp); err != nil {
						return nil, err
					}
					return stopAfter{s, cancel}, nil
				})
			if err != nil {
				b.Fatal(err)
			}
			if err := t.Run(ctx); err != nil {
				b.Fatal(err)
			}
			if err := s.close(); err != nil {
				b.Fatal(err)
			}
			return s.flows.Load()
		})
	})
}

// stopAfter stops the tailer once every flow is written.
type stopAfter struct {
	*runSink
	cancel context.CancelFunc
}

func (s stopAfter) Line(l *tail.Line) error {
	err := s.runSink.Line(l)
	if s.flows.Load() == benchFlows {
		s.cancel()
	}
	return err
}
