package behavior

import (
	"errors"
	"fmt"
	"time"
)

// Config holds the thresholds, windows and limits of the behavioural
// detectors. DefaultConfig gives values from Zeek and RITA practice; every
// field must be positive unless its comment says otherwise.
type Config struct {
	// Scans (Zeek's scan.zeek: 25 hosts on one port or 15 ports on one host
	// within 5 minutes).
	ScanWindow      time.Duration `mapstructure:"scan_window"`      // tumbling window per source
	HorizontalHosts int           `mapstructure:"horizontal_hosts"` // distinct hosts on one port
	VerticalPorts   int           `mapstructure:"vertical_ports"`   // distinct ports on one host
	// ScanMinFailedShare is the share of the distinct targets that must
	// have failed (no handshake, rejected, unanswered). Zeek counts failed
	// attempts only; counting every target but asking for a failure share
	// also finds sweeps that partly succeed, while a busy browser (many
	// servers on 443, nearly all answering) stays quiet. 0 disables it.
	ScanMinFailedShare float64 `mapstructure:"scan_min_failed_share"`
	// Null model of the scan p-value: a benign host's mean number of
	// distinct hosts per port and ports per host in one window, and the
	// probability that a benign first contact fails.
	ScanNullTargets  float64 `mapstructure:"scan_null_targets"`
	ScanNullFailRate float64 `mapstructure:"scan_null_fail_rate"`
	MaxScanPairs     int     `mapstructure:"max_scan_pairs"` // distinct (host, port) targets kept per source window; more are counted, not stored

	// Threshold random walk (Jung, Paxson, Berger, Balakrishnan 2004) on
	// the outcome of each source's first contact with a TCP host.
	TRWSuccessBenign  float64       `mapstructure:"trw_success_benign"`  // theta0: P(success | benign)
	TRWSuccessScanner float64       `mapstructure:"trw_success_scanner"` // theta1: P(success | scanner)
	TRWDetect         float64       `mapstructure:"trw_detect"`          // P_D, target detection probability
	TRWFalseAlarm     float64       `mapstructure:"trw_false_alarm"`     // P_F, target false alarm probability
	TRWHold           time.Duration `mapstructure:"trw_hold"`            // after a decision "scanner", no new finding for this long
	MaxFirstContacts  int           `mapstructure:"max_first_contacts"`  // destinations remembered per source for first contacts

	// Floods and half-open surges, per victim. A flood is reported as soon
	// as FloodMinFlows is reached in the window, and again at the window's
	// end if it went on to double.
	FloodWindow    time.Duration `mapstructure:"flood_window"`
	FloodMinFlows  int           `mapstructure:"flood_min_flows"`  // unanswered / half-open flows to the victim in one window
	FloodMinShare  float64       `mapstructure:"flood_min_share"`  // their share of all flows to the victim seen in that window
	FloodNullFlows float64       `mapstructure:"flood_null_flows"` // null mean of unanswered flows per window (Poisson)
	MaxVictims     int           `mapstructure:"max_victims"`

	// Beacons (RITA): per (source, destination) pair.
	BeaconMinConns    int           `mapstructure:"beacon_min_conns"`    // connections before a pair is scored
	BeaconMaxConns    int           `mapstructure:"beacon_max_conns"`    // most recent connections kept per pair
	BeaconMinScore    float64       `mapstructure:"beacon_min_score"`    // RITA score (0..1) to report
	BeaconMaxP        float64       `mapstructure:"beacon_max_p"`        // and the interval p-value must be at most this
	BeaconMinInterval time.Duration `mapstructure:"beacon_min_interval"` // median interval below this is a burst, not a beacon
	BeaconJitter      time.Duration `mapstructure:"beacon_jitter"`       // RITA's interval MAD cut-off (30 s)
	BeaconSizeJitter  float64       `mapstructure:"beacon_size_jitter"`  // RITA's size MAD cut-off in bytes (32)
	BeaconIdle        time.Duration `mapstructure:"beacon_idle"`         // pairs idle this long are scored and forgotten
	MaxPairsPerHost   int           `mapstructure:"max_pairs_per_host"`
	MaxPairs          int           `mapstructure:"max_pairs"`

	// Long connections.
	LongDuration time.Duration `mapstructure:"long_duration"`

	// Reconnection attempts: failed TCP connections from one source to one
	// (destination, port) within a window.
	ReconnectWindow       time.Duration `mapstructure:"reconnect_window"`
	ReconnectAttempts     int           `mapstructure:"reconnect_attempts"`      // failed attempts to report (Slips: 5)
	ReconnectNullAttempts float64       `mapstructure:"reconnect_null_attempts"` // null mean of failed attempts per target and window

	// Per-host baselines (fan-out, bytes out, new destinations), updated
	// once per scan window with exponentially damped mean and variance on
	// log1p of the counts.
	BaselineAlpha      float64 `mapstructure:"baseline_alpha"`       // EWMA weight of the newest window
	BaselineMinWindows int     `mapstructure:"baseline_min_windows"` // windows before the baseline is trusted
	BaselineZ          float64 `mapstructure:"baseline_z"`           // robust z to report
	BaselineMinSD      float64 `mapstructure:"baseline_min_sd"`      // floor of the standard deviation (log1p units)
	FanOutMin          int     `mapstructure:"fan_out_min"`          // absolute floors, so small hosts do not alert
	VolumeMinBytes     uint64  `mapstructure:"volume_min_bytes"`
	NewDestMin         int     `mapstructure:"new_dest_min"`

	// Bounds.
	MaxHosts     int           `mapstructure:"max_hosts"`      // sources tracked
	HostIdle     time.Duration `mapstructure:"host_idle"`      // sources idle this long are forgotten
	SweepEvery   time.Duration `mapstructure:"sweep_every"`    // flow time between sweeps of expired state
	MaxUIDs      int           `mapstructure:"max_uids"`       // flow uids kept per finding
	MaxEvidence  int           `mapstructure:"max_evidence"`   // list items (ports, hosts) kept per finding
	MaxTopSource int           `mapstructure:"max_top_source"` // top sources kept per flood victim
}

// DefaultConfig returns the defaults: Zeek's scan thresholds, Jung et al.'s
// TRW parameters, RITA's beacon scoring, one hour for long connections.
func DefaultConfig() Config {
	return Config{
		ScanWindow:         5 * time.Minute,
		HorizontalHosts:    25,
		VerticalPorts:      15,
		ScanMinFailedShare: 0.25,
		ScanNullTargets:    4,
		ScanNullFailRate:   0.1,
		MaxScanPairs:       4096,

		TRWSuccessBenign:  0.8,
		TRWSuccessScanner: 0.2,
		TRWDetect:         0.99,
		TRWFalseAlarm:     0.01,
		TRWHold:           time.Hour,
		MaxFirstContacts:  512,

		FloodWindow:    10 * time.Minute,
		FloodMinFlows:  200,
		FloodMinShare:  0.5,
		FloodNullFlows: 20,
		MaxVictims:     10000,

		BeaconMinConns:    20,
		BeaconMaxConns:    32,
		BeaconMinScore:    0.8,
		BeaconMaxP:        1e-6,
		BeaconMinInterval: time.Second,
		BeaconJitter:      30 * time.Second,
		BeaconSizeJitter:  32,
		BeaconIdle:        24 * time.Hour,
		MaxPairsPerHost:   256,
		MaxPairs:          200000,

		LongDuration: time.Hour,

		ReconnectWindow:       5 * time.Minute,
		ReconnectAttempts:     5,
		ReconnectNullAttempts: 1,

		BaselineAlpha:      0.05,
		BaselineMinWindows: 12,
		BaselineZ:          4,
		BaselineMinSD:      1,
		FanOutMin:          20,
		VolumeMinBytes:     10 << 20,
		NewDestMin:         20,

		MaxHosts:     100000,
		HostIdle:     time.Hour,
		SweepEvery:   time.Minute,
		MaxUIDs:      10,
		MaxEvidence:  20,
		MaxTopSource: 8,
	}
}

// Validate reports every field that is out of range, by its configuration
// key (detect.behavior.<key> in configs/mlads.yaml).
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, v float64) {
		if !(v > 0) {
			errs = append(errs, fmt.Errorf("behavior.%s: must be positive, got %v", name, v))
		}
	}
	prob := func(name string, v float64) {
		if !(v > 0 && v < 1) {
			errs = append(errs, fmt.Errorf("behavior.%s: must be in (0, 1), got %v", name, v))
		}
	}
	pos("scan_window", float64(c.ScanWindow))
	pos("horizontal_hosts", float64(c.HorizontalHosts))
	pos("vertical_ports", float64(c.VerticalPorts))
	if c.ScanMinFailedShare < 0 || c.ScanMinFailedShare > 1 {
		errs = append(errs, fmt.Errorf("behavior.scan_min_failed_share: must be in [0, 1], got %v", c.ScanMinFailedShare))
	}
	pos("scan_null_targets", c.ScanNullTargets)
	prob("scan_null_fail_rate", c.ScanNullFailRate)
	pos("max_scan_pairs", float64(c.MaxScanPairs))
	prob("trw_success_benign", c.TRWSuccessBenign)
	prob("trw_success_scanner", c.TRWSuccessScanner)
	if c.TRWSuccessScanner >= c.TRWSuccessBenign {
		errs = append(errs, fmt.Errorf("behavior.trw_success_scanner: %v must be below trw_success_benign (%v)", c.TRWSuccessScanner, c.TRWSuccessBenign))
	}
	prob("trw_detect", c.TRWDetect)
	prob("trw_false_alarm", c.TRWFalseAlarm)
	pos("trw_hold", float64(c.TRWHold))
	pos("max_first_contacts", float64(c.MaxFirstContacts))
	pos("flood_window", float64(c.FloodWindow))
	pos("flood_min_flows", float64(c.FloodMinFlows))
	prob("flood_min_share", c.FloodMinShare)
	pos("flood_null_flows", c.FloodNullFlows)
	pos("max_victims", float64(c.MaxVictims))
	if c.BeaconMinConns < 4 {
		errs = append(errs, fmt.Errorf("behavior.beacon_min_conns: must be at least 4, got %d", c.BeaconMinConns))
	}
	if c.BeaconMaxConns < c.BeaconMinConns {
		errs = append(errs, fmt.Errorf("behavior.beacon_max_conns: %d must be at least beacon_min_conns (%d)", c.BeaconMaxConns, c.BeaconMinConns))
	}
	prob("beacon_min_score", c.BeaconMinScore)
	prob("beacon_max_p", c.BeaconMaxP)
	pos("beacon_min_interval", float64(c.BeaconMinInterval))
	pos("beacon_jitter", float64(c.BeaconJitter))
	pos("beacon_size_jitter", c.BeaconSizeJitter)
	pos("beacon_idle", float64(c.BeaconIdle))
	pos("max_pairs_per_host", float64(c.MaxPairsPerHost))
	pos("max_pairs", float64(c.MaxPairs))
	pos("long_duration", float64(c.LongDuration))
	pos("reconnect_window", float64(c.ReconnectWindow))
	if c.ReconnectAttempts < 2 {
		errs = append(errs, fmt.Errorf("behavior.reconnect_attempts: must be at least 2, got %d", c.ReconnectAttempts))
	}
	pos("reconnect_null_attempts", c.ReconnectNullAttempts)
	prob("baseline_alpha", c.BaselineAlpha)
	pos("baseline_min_windows", float64(c.BaselineMinWindows))
	pos("baseline_z", c.BaselineZ)
	pos("baseline_min_sd", c.BaselineMinSD)
	pos("max_hosts", float64(c.MaxHosts))
	pos("host_idle", float64(c.HostIdle))
	pos("sweep_every", float64(c.SweepEvery))
	pos("max_uids", float64(c.MaxUIDs))
	pos("max_evidence", float64(c.MaxEvidence))
	pos("max_top_source", float64(c.MaxTopSource))
	return errors.Join(errs...)
}
