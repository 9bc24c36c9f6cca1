package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/mlads/mlads/dashboards"
	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/elastic"
)

// ElasticSink builds the Elasticsearch sink from the configuration, or
// returns nils when elasticsearch.url is unset. It checks the cluster
// first: refused credentials, a TLS failure or missing templates are an
// error naming the cause, while an unreachable cluster is only a warning
// (documents are spooled until it answers). The closer stores or spools
// what is still queued and closes the spool: call it once, after the last
// Flush. The sink retries and spools by itself; wrapping it in
// alert.Retry only matters for a full spool with the block policy.
func ElasticSink(cfg config.Config, log *slog.Logger) (alert.Sink, io.Closer, error) {
	if cfg.Elasticsearch.URL == "" {
		return nil, nil, nil
	}
	s, err := newElasticSink(cfg.Elasticsearch, os.Getenv, log)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Elasticsearch.Timeout)
	defer cancel()
	if err := s.Client().Check(ctx); err != nil {
		var e *elastic.Error
		if !errors.As(err, &e) || !e.Unreachable {
			_ = s.Close()
			return nil, nil, err
		}
		log.Warn("Elasticsearch does not answer; alerts are spooled until it does", "err", err)
	}
	return s, s, nil
}

func newElasticSink(cfg config.Elastic, getenv func(string) string, log *slog.Logger) (*elastic.Sink, error) {
	c, err := ElasticClient(cfg, getenv)
	if err != nil {
		return nil, err
	}
	return elastic.NewSink(c, elastic.SinkOptions{
		Workers: cfg.Workers, FlushBytes: cfg.FlushBytes, FlushInterval: cfg.FlushInterval,
		RetryTimeout: cfg.RetryTimeout, DeadLetter: cfg.DeadLetter,
		SpoolDir: cfg.Spool.Dir, SpoolMaxBytes: cfg.Spool.MaxBytes, SpoolWhenFull: cfg.Spool.WhenFull,
		ReplayInterval: cfg.Spool.ReplayInterval,
		Logger:         log.With("component", "elasticsearch"),
	})
}

// ElasticClient builds the client of elasticsearch.url, reading the
// password and API key from the environment variables the configuration
// names.
func ElasticClient(cfg config.Elastic, getenv func(string) string) (*elastic.Client, error) {
	o := elastic.Options{
		URL: cfg.URL, Username: cfg.Username, CAFile: cfg.CAFile, Fingerprint: cfg.Fingerprint,
		Namespace: cfg.Namespace, Retention: cfg.Retention, Timeout: cfg.Timeout,
	}
	if cfg.APIKeyEnv != "" {
		o.APIKey = getenv(cfg.APIKeyEnv)
	}
	if cfg.Username != "" && cfg.PasswordEnv != "" {
		o.Password = getenv(cfg.PasswordEnv)
		if o.Password == "" {
			return nil, fmt.Errorf("elasticsearch.username is set but $%s (elasticsearch.password_env) is empty", cfg.PasswordEnv)
		}
	}
	return elastic.New(o)
}

// SetupOptions say what `mlads setup` does.
type SetupOptions struct {
	DryRun bool
	Out    io.Writer // the dry run's listing, and what was installed
	Getenv func(string) string
	Logger *slog.Logger
}

// Setup installs the templates and policies into elasticsearch.url and
// imports the dashboards into kibana.url, each when set. A dry run prints
// the requests instead, with a placeholder cluster when none is set.
func Setup(ctx context.Context, cfg config.Config, o SetupOptions) error {
	es, kb := cfg.Elasticsearch, cfg.Kibana
	if es.URL == "" && kb.URL == "" && !o.DryRun {
		return errors.New("setup: neither elasticsearch.url nor kibana.url is set (in the config file, or MLADS_ELASTICSEARCH_URL)")
	}
	if es.URL != "" || o.DryRun {
		if es.URL == "" {
			es.URL = "http://elasticsearch.invalid:9200"
		}
		c, err := ElasticClient(es, o.Getenv)
		if err != nil {
			return err
		}
		if err := c.Setup(ctx, o.DryRun, o.Out); err != nil {
			return err
		}
		if !o.DryRun {
			n := c.Names()
			fmt.Fprintf(o.Out, "elasticsearch: templates and lifecycle policies installed (mapping version %d): alerts in %s, incidents in %s*\n",
				elastic.MappingVersion, n.Alerts, n.Incidents)
		}
	}
	if kb.URL == "" {
		if o.DryRun {
			fmt.Fprintln(o.Out, "# kibana.url is not set: no saved objects would be imported")
		}
		return nil
	}
	files, err := savedObjects(kb.Dashboards)
	if err != nil {
		return err
	}
	k := kibanaOf(cfg, o.Getenv)
	if err := k.Import(ctx, files, o.DryRun, o.Out); err != nil {
		return err
	}
	if !o.DryRun {
		fmt.Fprintf(o.Out, "kibana: %d saved-object files imported\n", len(files))
	}
	return nil
}

// kibanaOf builds the Kibana importer; it uses the Elasticsearch
// credentials unless kibana.* has its own.
func kibanaOf(cfg config.Config, getenv func(string) string) *elastic.Kibana {
	kb, es := cfg.Kibana, cfg.Elasticsearch
	k := &elastic.Kibana{URL: kb.URL, Space: kb.Space, CAFile: kb.CAFile, Timeout: es.Timeout}
	user, passEnv, keyEnv := kb.Username, kb.PasswordEnv, kb.APIKeyEnv
	if user == "" && keyEnv == "" {
		user, passEnv, keyEnv = es.Username, es.PasswordEnv, es.APIKeyEnv
	}
	if keyEnv != "" {
		k.APIKey = getenv(keyEnv)
	}
	if user != "" && passEnv != "" {
		k.Username, k.Password = user, getenv(passEnv)
	}
	return k
}

// savedObjects returns the ndjson files of dir, or the built-in ones when
// dir is empty.
func savedObjects(dir string) ([]elastic.SavedObjects, error) {
	var out []elastic.SavedObjects
	if dir == "" {
		fs, err := dashboards.Files()
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			out = append(out, elastic.SavedObjects{Name: f.Name, Data: f.Data})
		}
		return out, nil
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	if err != nil {
		return nil, fmt.Errorf("kibana.dashboards: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("kibana.dashboards: no *.ndjson file in %s", dir)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("kibana.dashboards: %w", err)
		}
		out = append(out, elastic.SavedObjects{Name: filepath.Base(n), Data: b})
	}
	return out, nil
}

// SpoolStatus writes what waits in the spool.
func SpoolStatus(cfg config.Elastic, out io.Writer) error {
	st, err := elastic.ReadSpoolStatus(cfg.Spool.Dir, cfg.Spool.MaxBytes)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "spool %s: %d documents in %d segment files, %s of %s\n",
		st.Dir, st.Docs, st.Segments, humanBytes(st.Bytes), humanBytes(st.MaxBytes))
	return err
}

// SpoolFlush sends what waits in the spool now. It fails when documents
// are left.
func SpoolFlush(ctx context.Context, cfg config.Elastic, out io.Writer, getenv func(string) string, log *slog.Logger) error {
	if cfg.URL == "" {
		return errors.New("spool flush: elasticsearch.url is not set")
	}
	s, err := newElasticSink(cfg, getenv, log)
	if err != nil {
		return err
	}
	before := s.Stats().Spool.Docs
	rerr := s.Replay(ctx)
	cerr := s.Close()
	st := s.Stats()
	fmt.Fprintf(out, "spool %s: %d of %d documents sent, %d left\n", st.Spool.Dir, st.Replayed, before, st.Spool.Docs)
	return errors.Join(rerr, cerr)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return strings.TrimSpace(fmt.Sprintf("%d B", n))
}
