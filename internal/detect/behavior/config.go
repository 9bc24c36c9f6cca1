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
	ScanWindow      time.Duration // tumbling window per source
	HorizontalHosts int           // distinct hosts on one port
	VerticalPorts   int           // distinct ports on one host
	// ScanMinFailedShare is the share of the distinct targets that must
	// have failed (no handshake, rejected, unanswered). Zeek counts failed
	// attempts only; counting every target but asking for a failure share
	// also finds sweeps that partly succeed, while a busy browser (many
	// servers on 443, nearly all answering) stays quiet. 0 disables it.
	ScanMinFailedShare float64
	// Null model of the scan p-value: a benign host's mean number of
	// distinct hosts per port and ports per host in one window, and the
	// probability that a benign first contact fails.
	ScanNullTargets  float64
	ScanNullFailRate float64
	MaxScanPairs     int // distinct (host, port) targets kept per source window; more are counted, not stored

	// Threshold random walk (Jung, Paxson, Berger, Balakrishnan 2004) on
	// the outcome of each source's first contact with a TCP host.
	TRWSuccessBenign  float64       // theta0: P(success | benign)
	TRWSuccessScanner float64       // theta1: P(success | scanner)
	TRWDetect         float64       // P_D, target detection probability
	TRWFalseAlarm     float64       // P_F, target false alarm probability
	TRWHold           time.Duration // after a decision "scanner", no new finding for this long
	MaxFirstContacts  int           // destinations remembered per source for first contacts

	// Floods and half-open surges, per victim. A flood is reported as soon
	// as FloodMinFlows is reached in the window, and again at the window's
	// end if it went on to double.
	FloodWindow    time.Duration
	FloodMinFlows  int     // unanswered / half-open flows to the victim in one window
	FloodMinShare  float64 // their share of all flows to the victim seen in that window
	FloodNullFlows float64 // null mean of unanswered flows per window (Poisson)
	MaxVictims     int

	// Beacons (RITA): per (source, destination) pair.
	BeaconMinConns    int           // connections before a pair is scored
	BeaconMaxConns    int           // most recent connections kept per pair
	BeaconMinScore    float64       // RITA score (0..1) to report
	BeaconMaxP        float64       // and the interval p-value must be at most this
	BeaconMinInterval time.Duration // median interval below this is a burst, not a beacon
	BeaconJitter      time.Duration // RITA's interval MAD cut-off (30 s)
	BeaconSizeJitter  float64       // RITA's size MAD cut-off in bytes (32)
	BeaconIdle        time.Duration // pairs idle this long are scored and forgotten
	MaxPairsPerHost   int
	MaxPairs          int

	// Long connections.
	LongDuration time.Duration

	// Per-host baselines (fan-out, bytes out, new destinations), updated
	// once per scan window with exponentially damped mean and variance on
	// log1p of the counts.
	BaselineAlpha      float64 // EWMA weight of the newest window
	BaselineMinWindows int     // windows before the baseline is trusted
	BaselineZ          float64 // robust z to report
	BaselineMinSD      float64 // floor of the standard deviation (log1p units)
	FanOutMin          int     // absolute floors, so small hosts do not alert
	VolumeMinBytes     uint64
	NewDestMin         int

	// Bounds.
	MaxHosts     int           // sources tracked
	HostIdle     time.Duration // sources idle this long are forgotten
	SweepEvery   time.Duration // flow time between sweeps of expired state
	MaxUIDs      int           // flow uids kept per finding
	MaxEvidence  int           // list items (ports, hosts) kept per finding
	MaxTopSource int           // top sources kept per flood victim
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

// Validate reports the first field that is out of range.
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, v float64) {
		if !(v > 0) {
			errs = append(errs, fmt.Errorf("behavior: %s must be positive, got %v", name, v))
		}
	}
	prob := func(name string, v float64) {
		if !(v > 0 && v < 1) {
			errs = append(errs, fmt.Errorf("behavior: %s must be in (0, 1), got %v", name, v))
		}
	}
	pos("ScanWindow", float64(c.ScanWindow))
	pos("HorizontalHosts", float64(c.HorizontalHosts))
	pos("VerticalPorts", float64(c.VerticalPorts))
	if c.ScanMinFailedShare < 0 || c.ScanMinFailedShare > 1 {
		errs = append(errs, fmt.Errorf("behavior: ScanMinFailedShare must be in [0, 1], got %v", c.ScanMinFailedShare))
	}
	pos("ScanNullTargets", c.ScanNullTargets)
	prob("ScanNullFailRate", c.ScanNullFailRate)
	pos("MaxScanPairs", float64(c.MaxScanPairs))
	prob("TRWSuccessBenign", c.TRWSuccessBenign)
	prob("TRWSuccessScanner", c.TRWSuccessScanner)
	if c.TRWSuccessScanner >= c.TRWSuccessBenign {
		errs = append(errs, fmt.Errorf("behavior: TRWSuccessScanner (%v) must be below TRWSuccessBenign (%v)", c.TRWSuccessScanner, c.TRWSuccessBenign))
	}
	prob("TRWDetect", c.TRWDetect)
	prob("TRWFalseAlarm", c.TRWFalseAlarm)
	pos("TRWHold", float64(c.TRWHold))
	pos("MaxFirstContacts", float64(c.MaxFirstContacts))
	pos("FloodWindow", float64(c.FloodWindow))
	pos("FloodMinFlows", float64(c.FloodMinFlows))
	prob("FloodMinShare", c.FloodMinShare)
	pos("FloodNullFlows", c.FloodNullFlows)
	pos("MaxVictims", float64(c.MaxVictims))
	if c.BeaconMinConns < 4 {
		errs = append(errs, fmt.Errorf("behavior: BeaconMinConns must be at least 4, got %d", c.BeaconMinConns))
	}
	if c.BeaconMaxConns < c.BeaconMinConns {
		errs = append(errs, fmt.Errorf("behavior: BeaconMaxConns (%d) must be at least BeaconMinConns (%d)", c.BeaconMaxConns, c.BeaconMinConns))
	}
	prob("BeaconMinScore", c.BeaconMinScore)
	prob("BeaconMaxP", c.BeaconMaxP)
	pos("BeaconMinInterval", float64(c.BeaconMinInterval))
	pos("BeaconJitter", float64(c.BeaconJitter))
	pos("BeaconSizeJitter", c.BeaconSizeJitter)
	pos("BeaconIdle", float64(c.BeaconIdle))
	pos("MaxPairsPerHost", float64(c.MaxPairsPerHost))
	pos("MaxPairs", float64(c.MaxPairs))
	pos("LongDuration", float64(c.LongDuration))
	prob("BaselineAlpha", c.BaselineAlpha)
	pos("BaselineMinWindows", float64(c.BaselineMinWindows))
	pos("BaselineZ", c.BaselineZ)
	pos("BaselineMinSD", c.BaselineMinSD)
	pos("MaxHosts", float64(c.MaxHosts))
	pos("HostIdle", float64(c.HostIdle))
	pos("SweepEvery", float64(c.SweepEvery))
	pos("MaxUIDs", float64(c.MaxUIDs))
	pos("MaxEvidence", float64(c.MaxEvidence))
	pos("MaxTopSource", float64(c.MaxTopSource))
	return errors.Join(errs...)
}
