package config

import (
	"fmt"

	"github.com/mlads/mlads/internal/detect/behavior"
)

// Detect configures the statistical ensemble.
type Detect struct {
	// AlertsPerDay is the false-alarm budget: how many alerts a day of
	// normal traffic may raise. Used when FalsePositiveRate is 0.
	AlertsPerDay float64 `mapstructure:"alerts_per_day"`
	// FalsePositiveRate is the budget as a fraction of normal flows
	// (for example 0.001); it takes precedence over AlertsPerDay when set.
	FalsePositiveRate float64 `mapstructure:"false_positive_rate"`
	// Seed makes training deterministic.
	Seed int64 `mapstructure:"seed"`
	// Trees is the number of isolation trees per traffic group.
	Trees int `mapstructure:"trees"`
	// Trim is the fraction of the most anomalous training flows dropped
	// before the detectors are fitted again, so attacks hidden in the
	// training data do not become "normal".
	Trim float64 `mapstructure:"trim"`
	// CalibrationFraction is the share of training flows held out (never
	// fitted on) to calibrate scores into p-values.
	CalibrationFraction float64 `mapstructure:"calibration_fraction"`
	// MaxHosts bounds the per-host state kept while scoring; the least
	// recently seen host is evicted beyond it (counted).
	MaxHosts int `mapstructure:"max_hosts"`
	// MaxKnown bounds the table of known originators, responders and
	// services kept in the model; entries beyond it are dropped (counted).
	MaxKnown int `mapstructure:"max_known"`
	// OnlineUpdates lets flows that scored clearly normal teach the model
	// new hosts and services while scoring.
	OnlineUpdates bool `mapstructure:"online_updates"`
	// OnlineHostCap is how many online updates one originating host may
	// make, so no single host can teach the model its attack.
	OnlineHostCap int `mapstructure:"online_host_cap"`
	// Combine is how the detectors' p-values are combined before the final
	// calibration: "fisher" (sum of -log p; adds up evidence from several
	// detectors) or "cauchy" (the Cauchy combination, ACAT; follows the
	// strongest detector).
	Combine string `mapstructure:"combine"`
	// MaxTrainFlows bounds the flows training keeps in memory; beyond it a
	// seeded reservoir sample of the baseline is fitted (host and "seen"
	// statistics still count every flow). 0 keeps all.
	MaxTrainFlows int `mapstructure:"max_train_flows"`
	// Behavior holds the behavioural detectors' thresholds, windows and
	// limits (scans, floods, beacons, long connections, host baselines).
	// Its keys and their meaning are behavior.Config's.
	Behavior behavior.Config `mapstructure:"behavior"`
}

func defaultDetect() Detect {
	return Detect{
		AlertsPerDay:        50,
		Seed:                1,
		Trees:               32,
		Trim:                0.02,
		CalibrationFraction: 0.3,
		MaxHosts:            100000,
		MaxKnown:            1 << 20,
		OnlineUpdates:       true,
		OnlineHostCap:       200,
		Combine:             "fisher",
		MaxTrainFlows:       2000000,
		Behavior:            behavior.DefaultConfig(),
	}
}

func (d *Detect) validate() []error {
	var errs []error
	if err := d.Behavior.Validate(); err != nil {
		// behavior's messages start with the key under detect ("behavior.scan_window: ...")
		for _, e := range unjoin(err) {
			errs = append(errs, fmt.Errorf("detect.%w", e))
		}
	}
	if d.AlertsPerDay <= 0 && d.FalsePositiveRate <= 0 {
		errs = append(errs, fmt.Errorf("detect: one of alerts_per_day or false_positive_rate must be positive"))
	}
	if d.FalsePositiveRate < 0 || d.FalsePositiveRate >= 1 {
		errs = append(errs, fmt.Errorf("detect.false_positive_rate: %g must be in [0, 1)", d.FalsePositiveRate))
	}
	if d.Trees < 1 || d.Trees > 1000 {
		errs = append(errs, fmt.Errorf("detect.trees: %d must be in [1, 1000]", d.Trees))
	}
	if d.Trim < 0 || d.Trim > 0.5 {
		errs = append(errs, fmt.Errorf("detect.trim: %g must be in [0, 0.5]", d.Trim))
	}
	if d.CalibrationFraction <= 0 || d.CalibrationFraction >= 1 {
		errs = append(errs, fmt.Errorf("detect.calibration_fraction: %g must be in (0, 1)", d.CalibrationFraction))
	}
	if d.MaxHosts < 1 {
		errs = append(errs, fmt.Errorf("detect.max_hosts: %d must be positive", d.MaxHosts))
	}
	if d.MaxKnown < 1 {
		errs = append(errs, fmt.Errorf("detect.max_known: %d must be positive", d.MaxKnown))
	}
	if d.Combine != "fisher" && d.Combine != "cauchy" {
		errs = append(errs, fmt.Errorf("detect.combine: %q is not one of fisher, cauchy", d.Combine))
	}
	if d.MaxTrainFlows < 0 || (d.MaxTrainFlows > 0 && d.MaxTrainFlows < 1000) {
		errs = append(errs, fmt.Errorf("detect.max_train_flows: %d must be 0 (no limit) or at least 1000", d.MaxTrainFlows))
	}
	if d.OnlineHostCap < 0 {
		errs = append(errs, fmt.Errorf("detect.online_host_cap: %d must not be negative", d.OnlineHostCap))
	}
	return errs
}

// unjoin returns the errors of errors.Join, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
