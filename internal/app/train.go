package app

import (
	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/detect"
)

// DetectConfig converts the config file's detect section into the
// detector's settings.
func DetectConfig(c config.Detect) detect.Config {
	return detect.Config{
		AlertsPerDay: c.AlertsPerDay, FalsePositiveRate: c.FalsePositiveRate, Seed: c.Seed,
		Trees: c.Trees, Trim: c.Trim, CalibrationFraction: c.CalibrationFraction,
		MaxHosts: c.MaxHosts, MaxKnown: c.MaxKnown, OnlineUpdates: c.OnlineUpdates, OnlineHostCap: c.OnlineHostCap,
	}
}
