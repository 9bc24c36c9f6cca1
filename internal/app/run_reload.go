package app

import (
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/detect"
)

// Reload is how the daemon takes a new configuration without a restart
// (SIGHUP), set with Daemon.SetReload.
type Reload struct {
	// Signals delivers the requests (SIGHUP, from signal.Notify in main).
	Signals <-chan os.Signal
	// Load reads the configuration again (config.Load of the same file
	// and environment).
	Load func() (config.Config, error)
	// Level is the logger's level, set from log.level on a reload; nil
	// leaves the level as it is.
	Level *slog.LevelVar
}

// Hot keys: the configuration keys a SIGHUP applies to the running
// daemon. Every other key that changed is logged as needing a restart and
// keeps its running value. The rule files and the contacts file
// themselves are also read again on SIGHUP (and whenever they change).
var hotKeys = []string{
	"log.level",
	"run.model", "run.model_checkpoint", "run.model_checkpoint_interval", "run.health_interval",
	"detect.alerts_per_day", "detect.false_positive_rate", "detect.online_updates", "detect.online_host_cap",
	"rules.paths",
}

// modelStamp tells whether the model file changed: size, modification
// time and inode (a new file renamed over the old one).
type modelStamp struct {
	size int64
	mod  time.Time
	ino  uint64
}

func stampModel(path string) (modelStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return modelStamp{}, err
	}
	st := modelStamp{size: fi.Size(), mod: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st, nil
}

// modelLookEvery is how often the model file is looked at for a new
// version (a stat).
const modelLookEvery = time.Second

// hangup applies a pending SIGHUP: the configuration is read again; a
// configuration that fails to load or validate is refused with its error
// and the running one stays in force. Otherwise the hot keys take effect
// and the other changed keys are logged as needing a restart.
func (s *runSink) hangup() {
	r := s.reload
	if r == nil || r.Load == nil {
		return
	}
	select {
	case <-r.Signals:
	default:
		return
	}
	nc, err := r.Load()
	if err != nil {
		s.log.Error("SIGHUP: configuration not reloaded; the running one stays in force", "err", err)
		return
	}
	changed := config.Diff(s.running, nc)
	var applied, restart []string
	for _, k := range changed {
		if !slices.Contains(hotKeys, k) || !s.applyKey(k, &nc) {
			restart = append(restart, k)
			continue
		}
		applied = append(applied, k)
	}
	if slices.ContainsFunc(applied, func(k string) bool { return strings.HasPrefix(k, "detect.") }) {
		s.switchModel(s.model.m, "detection settings changed")
	}
	if m := s.model; m != nil {
		if m.watch != nil {
			m.watch.Reload(m.rulePaths)
		}
		if n, ok := m.notifier.(contactsReloader); ok {
			if ok, err := n.Reload(os.LookupEnv); err != nil {
				s.log.Error("SIGHUP: contacts file refused; the last good one stays in force", "err", err)
			} else if ok {
				s.log.Info("SIGHUP: contacts file reloaded")
			}
		}
	}
	s.log.Info("SIGHUP: configuration reloaded", "applied", applied)
	if len(restart) > 0 {
		s.log.Warn("SIGHUP: these keys changed but take effect only after a restart; their running values stay in force", "keys", restart)
	}
}

// contactsReloader is the contacts' sink (notify.Notifier), which reads
// its file again when it changed.
type contactsReloader interface {
	Reload(getenv func(string) (string, bool)) (bool, error)
}

// applyKey sets one hot key of nc in the running configuration, and
// reports whether it could (a model or rules the daemon did not start
// with need a restart).
func (s *runSink) applyKey(k string, nc *config.Config) bool {
	run, m := &s.running, s.model
	switch k {
	case "log.level":
		if s.reload.Level != nil {
			if err := s.reload.Level.UnmarshalText([]byte(nc.Log.Level)); err != nil {
				return false
			}
		}
		run.Log.Level = nc.Log.Level
	case "run.model":
		if m == nil || nc.Run.Model == "" {
			return false
		}
		nm, err := detect.ReadFile(nc.Run.Model)
		if err != nil {
			s.log.Error("SIGHUP: model not switched; the running one stays in force", "err", err)
			return false
		}
		run.Run.Model, s.cfg.Model = nc.Run.Model, nc.Run.Model
		s.modelStamp, _ = stampModel(nc.Run.Model)
		s.switchModel(nm, "run.model changed")
	case "run.model_checkpoint":
		run.Run.ModelCheckpoint, s.cfg.ModelCheckpoint = nc.Run.ModelCheckpoint, nc.Run.ModelCheckpoint
	case "run.model_checkpoint_interval":
		run.Run.ModelCheckpointInterval, s.cfg.ModelCheckpointInterval = nc.Run.ModelCheckpointInterval, nc.Run.ModelCheckpointInterval
		s.nextCheckpoint = time.Time{}
	case "run.health_interval":
		run.Run.HealthInterval, s.cfg.HealthInterval = nc.Run.HealthInterval, nc.Run.HealthInterval
	case "rules.paths":
		if m == nil || m.watch == nil || len(nc.Rules.Paths) == 0 {
			return false
		}
		run.Rules.Paths, m.rulePaths = nc.Rules.Paths, nc.Rules.Paths
	default: // detect budget and online updates
		if m == nil {
			return false
		}
		d := &run.Detect
		d.AlertsPerDay, d.FalsePositiveRate = nc.Detect.AlertsPerDay, nc.Detect.FalsePositiveRate
		d.OnlineUpdates, d.OnlineHostCap = nc.Detect.OnlineUpdates, nc.Detect.OnlineHostCap
		m.dc = DetectConfig(*d)
	}
	return true
}

// watchModel switches to a new model file once it appears at run.model
// (mlads train writes it atomically). A file that does not load is
// reported once per change, and the running model stays in force.
func (s *runSink) watchModel(now time.Time) {
	if s.model == nil || now.Before(s.nextModelLook) {
		return
	}
	s.nextModelLook = now.Add(modelLookEvery)
	st, err := stampModel(s.cfg.Model)
	if err != nil || st == s.modelStamp {
		return
	}
	s.modelStamp = st
	nm, err := detect.ReadFile(s.cfg.Model)
	if err != nil {
		s.log.Error("new model file not loaded; the running model stays in force", "err", err)
		return
	}
	s.switchModel(nm, "model file changed")
}

// switchModel scores with nm from the next flow on, keeping the detector
// state (pipeline.Online.SetModel).
func (s *runSink) switchModel(nm *detect.Model, why string) {
	m := s.model
	if err := m.online.SetModel(nm, m.dc); err != nil {
		s.log.Error("model not switched; the running one stays in force", "err", err)
		return
	}
	m.m, m.minP = nm, nm.MinPValue()
	if fi, err := os.Stat(s.cfg.Model); err == nil {
		m.modelTime = fi.ModTime()
	}
	s.log.Info("model switched", "why", why, "model", s.cfg.Model, "groups", len(nm.Nodes), "alpha", nm.Alpha,
		"known_behaviors", len(nm.KnownBehaviors))
	logLimit(s.log, "run", nm)
}

// checkpointModel writes the model with what the gated online updates
// taught, every run.model_checkpoint_interval (or now, when force is set)
// when something was taught since the last one.
func (s *runSink) checkpointModel(now time.Time, force bool) {
	iv := s.cfg.ModelCheckpointInterval
	if s.model == nil || iv <= 0 {
		return
	}
	if s.nextCheckpoint.IsZero() && !force {
		s.nextCheckpoint = now.Add(iv)
		return
	}
	if now.Before(s.nextCheckpoint) && !force {
		return
	}
	s.nextCheckpoint = now.Add(iv)
	up := s.model.online.Stats().Scorer.OnlineUpdates
	if up == s.checkpointUpdates {
		return
	}
	path := s.cfg.ModelCheckpointPath()
	n, err := s.model.online.Learned().WriteFile(path)
	if err != nil {
		s.log.Error("model checkpoint not written", "err", err)
		return
	}
	s.checkpointUpdates = up
	if path == s.cfg.Model {
		s.modelStamp, _ = stampModel(path) // our own write is not a new model
	}
	s.log.Info("model checkpoint written", "path", path, "bytes", n, "online_updates", up)
}
