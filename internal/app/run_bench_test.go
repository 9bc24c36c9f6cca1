package app

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/benchmeter"
	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/detect"
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
			cfg := config.Default()
			cfg.Run.Inputs = []string{logPath}
			s := followOnce(b, cfg, benchFlows)
			return s.flows.Load()
		})
	})
}

// followOnce runs the daemon's sink on cfg (its run.inputs; the outputs
// and positions go to a temporary folder), with a model when run.model is
// set, until want lines were read, and returns the sink.
func followOnce(b *testing.B, cfg config.Config, want int64) *runSink {
	d := b.TempDir()
	cfg.Run.Output, cfg.Run.Positions, cfg.Run.MaxLineBytes = filepath.Join(d, "out.ndjson"), filepath.Join(d, "positions.json"), 1<<20
	s := newRunSink(cfg.Run, nil, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if cfg.Run.Model != "" {
		if err := NewDaemon(cfg, nil, slog.New(slog.DiscardHandler)).detect(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	t, err := tail.New(tail.Config{Inputs: cfg.Run.Inputs, Positions: cfg.Run.Positions},
		func(cp []byte) (tail.Sink, error) {
			if _, err := s.open(cp); err != nil {
				return nil, err
			}
			return stopAt{s, cancel, want}, nil
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
	return s
}

// BenchmarkRunDetect measures the daemon end to end on a conn.log of
// office traffic (~200 k lines): tail → zeek.Parser → pipeline.Online
// (behavioural detectors, scoring, alerts through the live fold) → JSON
// lines, with positions committed, against the same daemon without a
// model (flows written), in one run. Reported: lines per wall and per CPU
// second.
func BenchmarkRunDetect(b *testing.B) {
	dir := b.TempDir()
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	train := filepath.Join(dir, "train.conn.log")
	if err := os.WriteFile(train, []byte(connHeader+connLines("t", 1, start, 24*time.Hour, 0, false)), 0o644); err != nil {
		b.Fatal(err)
	}
	model := filepath.Join(dir, "m.model")
	if _, err := Train(context.Background(), TrainOptions{Paths: []string{train}, Out: model, Detect: detect.DefaultConfig()}); err != nil {
		b.Fatal(err)
	}
	logPath := filepath.Join(dir, "conn.log")
	text := connHeader + connLines("s", 2, start.Add(24*time.Hour), 110*time.Hour, 30*time.Hour, true)
	if err := os.WriteFile(logPath, []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
	lines := int64(strings.Count(text, "\n") - strings.Count(text, "#"))
	for _, bc := range []struct{ name, model string }{{"flows", ""}, {"detect", model}} {
		b.Run(bc.name, func(b *testing.B) {
			benchmeter.Repeat(b, int64(len(text)), lines, "lines", func() int64 {
				cfg := config.Default()
				cfg.Run.Inputs, cfg.Run.Model = []string{logPath}, bc.model
				s := followOnce(b, cfg, lines)
				if bc.model != "" && s.alerts.Load() == 0 {
					b.Fatal("no alert")
				}
				return s.flows.Load()
			})
		})
	}
}

// stopAt stops the tailer once n flows were read.
type stopAt struct {
	*runSink
	cancel context.CancelFunc
	n      int64
}

func (s stopAt) Line(l *tail.Line) error {
	err := s.runSink.Line(l)
	if s.flows.Load() == s.n {
		s.cancel()
	}
	return err
}
