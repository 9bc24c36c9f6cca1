package config

import (
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// Pcap configures the flow meter that turns packets into flows. The
// defaults are Zeek's.
type Pcap struct {
	MaxFlows       int           `mapstructure:"max_flows"`       // flow-table limit; the oldest flows are evicted beyond it
	TCPInactivity  time.Duration `mapstructure:"tcp_inactivity"`  // Zeek's tcp_inactivity_timeout
	UDPInactivity  time.Duration `mapstructure:"udp_inactivity"`  // Zeek's udp_inactivity_timeout
	ICMPInactivity time.Duration `mapstructure:"icmp_inactivity"` // Zeek's icmp_inactivity_timeout
	// VerifyChecksums is auto (the default), true (like Zeek without -C)
	// or false (Zeek's -C). Auto checks until a clear share of the first
	// packets fails, then stops, as Suricata's checksum-validation auto.
	VerifyChecksums Checksums `mapstructure:"verify_checksums"`
	// Shards is how many flow tables (one goroutine each, plus one reading)
	// meter a capture; 0 means one per core. 1, the default, keeps the
	// output in a stable order; more interleave the tables' records.
	Shards int `mapstructure:"shards"`
}

// maxShards bounds pcap.shards: beyond a few, the single reading goroutine
// is the limit and more tables only cost memory.
const maxShards = 64

func defaultPcap() Pcap {
	return Pcap{
		MaxFlows:        1_000_000,
		TCPInactivity:   5 * time.Minute,
		UDPInactivity:   time.Minute,
		ICMPInactivity:  time.Minute,
		VerifyChecksums: ChecksumsAuto,
		Shards:          1,
	}
}

// Checksums is the value of pcap.verify_checksums. The YAML booleans
// true and false are read as ChecksumsOn and ChecksumsOff.
type Checksums string

// Values of Checksums.
const (
	ChecksumsAuto Checksums = "auto"
	ChecksumsOn   Checksums = "true"
	ChecksumsOff  Checksums = "false"
)

// checksumsHook lets pcap.verify_checksums be a YAML boolean or a string.
func checksumsHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf(Checksums("")) {
		return data, nil
	}
	if b, ok := data.(bool); ok {
		return Checksums(strconv.FormatBool(b)), nil
	}
	return data, nil
}

func (p *Pcap) validate() []error {
	var errs []error
	switch p.VerifyChecksums {
	case ChecksumsAuto, ChecksumsOn, ChecksumsOff:
	default:
		errs = append(errs, fmt.Errorf("pcap.verify_checksums: %q must be auto, true or false", string(p.VerifyChecksums)))
	}
	if p.MaxFlows < 1 {
		errs = append(errs, fmt.Errorf("pcap.max_flows: %d must be at least 1", p.MaxFlows))
	}
	if p.Shards < 0 || p.Shards > maxShards {
		errs = append(errs, fmt.Errorf("pcap.shards: %d must be in [0, %d] (0 = one per core)", p.Shards, maxShards))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"pcap.tcp_inactivity", p.TCPInactivity}, {"pcap.udp_inactivity", p.UDPInactivity}, {"pcap.icmp_inactivity", p.ICMPInactivity}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: %s must be positive", d.key, d.v))
		}
	}
	return errs
}
