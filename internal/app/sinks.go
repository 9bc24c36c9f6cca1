package app

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/elastic"
	"github.com/mlads/mlads/internal/rules"
)

// LoadRules loads the rule files of rules.paths; nil when there are none.
func LoadRules(cfg config.Config) (*rules.Set, error) {
	if len(cfg.Rules.Paths) == 0 {
		return nil, nil
	}
	return rules.Load(cfg.Rules.Paths...)
}

// OutputSinks builds the alert sinks the configuration turns on besides
// the JSON lines: Elasticsearch (elasticsearch.url) and the contacts
// (notify.contacts). Each comes wrapped as it needs. The returned close
// function stores or sends what they still hold and closes them: call it
// once, after the last Flush, even when a later step failed.
func OutputSinks(cfg config.Config, log *slog.Logger) (sinks []alert.Sink, closeAll func() error, err error) {
	var closers []io.Closer
	closeAll = func() error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i].Close())
		}
		return errors.Join(errs...)
	}
	builders := []func(config.Config, *slog.Logger) (alert.Sink, io.Closer, error){ElasticSink, NotifySink}
	for _, build := range builders {
		s, c, err := build(cfg, log)
		if err != nil {
			return nil, nil, errors.Join(err, closeAll())
		}
		if s == nil {
			continue
		}
		sinks = append(sinks, s)
		if c != nil {
			closers = append(closers, c)
		}
	}
	return sinks, closeAll, nil
}

// WatchDrops wraps sink, which writes to every output, in an
// alert.DropAlarm watching those of outputs that may drop documents by
// policy (the Elasticsearch spool), and the captured interfaces, which may
// lose frames: when one does, a health alert goes to all of them.
func WatchDrops(sink alert.Sink, outputs []alert.Sink, observer string, interfaces ...InterfaceDrops) alert.Sink {
	watch := map[string]alert.Dropper{}
	for _, s := range outputs {
		switch d := s.(type) {
		case *elastic.Sink:
			watch["elasticsearch"] = d
		case alert.Dropper:
			watch[fmt.Sprintf("%T", d)] = d
		}
	}
	if len(watch) == 0 && len(interfaces) == 0 {
		return sink
	}
	a := alert.NewDropAlarm(sink, observer, nil, watch)
	for _, i := range interfaces {
		a.WatchCapture(i.Name, i.Dropper)
	}
	return a
}

// InterfaceDrops counts the frames a captured interface lost before mlads
// read them.
type InterfaceDrops struct {
	Name string
	alert.Dropper
}
