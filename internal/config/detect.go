package config

import "fmt"

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
}

func defaultDetect() Detect {
	return Detect{AlertsPerDay: 50, Seed: 1}
}

func (d *Detect) validate() []error {
	var errs []error
	if d.AlertsPerDay <= 0 && d.FalsePositiveRate <= 0 {
		errs = append(errs, fmt.Errorf("detect: one of alerts_per_day or false_positive_rate must be positive"))
	}
	if d.FalsePositiveRate < 0 || d.FalsePositiveRate >= 1 {
		errs = append(errs, fmt.Errorf("detect.false_positive_rate: %g must be in [0, 1)", d.FalsePositiveRate))
	}
	return errs
}
