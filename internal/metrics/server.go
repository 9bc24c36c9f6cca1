package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HealthFunc judges the daemon's health now: the reasons it is unhealthy,
// none when it is healthy.
type HealthFunc func(now time.Time) []string

// HealthReport is the JSON body of /healthz: status "ok" (200) or
// "unhealthy" (503) with the reasons.
type HealthReport struct {
	Status  string   `json:"status"`
	Reasons []string `json:"reasons,omitempty"`
}

// Server serves /metrics from a Gatherer and /healthz from a HealthFunc.
// Build it with Listen, which binds the address (so that an address in use
// is an error at start), and call Run once.
type Server struct {
	ln     net.Listener
	srv    *http.Server
	log    *slog.Logger
	health HealthFunc
}

// shutdownGrace bounds how long Run waits for scrapes in flight at the end.
const shutdownGrace = 5 * time.Second

// Listen binds addr (host:port; port 0 picks one) and returns the server
// of g's metrics and health's judgement. A nil health is always healthy.
func Listen(addr string, g prometheus.Gatherer, health HealthFunc, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	s := &Server{ln: ln, log: log, health: health}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", s.serveHealth)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx ends, then shuts the server down, waiting up to 5 s
// for the requests in flight, and returns nil; or returns the error that
// stopped the serving.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics: serve on %s: %w", s.ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("metrics: shut down %s: %w", s.ln.Addr(), err)
	}
	return nil
}

func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	rep := HealthReport{Status: "ok"}
	code := http.StatusOK
	if s.health != nil {
		if rep.Reasons = s.health(time.Now()); len(rep.Reasons) > 0 {
			rep.Status, code = "unhealthy", http.StatusServiceUnavailable
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(rep); err != nil {
		s.log.Debug("healthz: write the answer", "err", err)
	}
}
