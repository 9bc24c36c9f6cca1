// Package config loads mlads's configuration: configs/mlads.yaml, overridden
// key by key by MLADS_... environment variables, decoded strictly into a
// typed Config and validated.
//
// It is the only package that imports viper. Every other package receives
// the plain structs defined here (or its own options built from them).
//
// Each section of the file has its own type in its own file (pcap.go,
// run.go, detect.go, ...), with its defaults and its Validate method.
package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// EnvPrefix is the prefix of the environment variables that override
// configuration keys: pcap.max_flows is MLADS_PCAP_MAX_FLOWS.
const EnvPrefix = "MLADS"

// Config is the whole configuration.
type Config struct {
	Log     Log     `mapstructure:"log"`
	Pcap    Pcap    `mapstructure:"pcap"`
	Capture Capture `mapstructure:"capture"`
	Run     Run     `mapstructure:"run"`
	Detect  Detect  `mapstructure:"detect"`

	Elasticsearch Elastic `mapstructure:"elasticsearch"`
	Kibana        Kibana  `mapstructure:"kibana"`
	Notify        Notify  `mapstructure:"notify"`
	Rules         Rules   `mapstructure:"rules"`
	Kafka         Kafka   `mapstructure:"kafka"`
}

// Log configures the process's own diagnostics (on stderr).
type Log struct {
	Level  string `mapstructure:"level"`  // debug, info, warn, error
	Format string `mapstructure:"format"` // text or json
}

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		Log:     Log{Level: "info", Format: "text"},
		Pcap:    defaultPcap(),
		Capture: defaultCapture(),
		Run:     defaultRun(),
		Detect:  defaultDetect(),

		Elasticsearch: defaultElastic(),
		Kibana:        defaultKibana(),
		Notify:        defaultNotify(),
		Kafka:         defaultKafka(),
	}
}

// Validate checks every section and returns all problems found, each
// naming its key.
func (c *Config) Validate() error {
	var errs []error
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not one of text, json", c.Log.Format))
	}
	errs = append(errs, c.Pcap.validate()...)
	errs = append(errs, c.Capture.validate()...)
	errs = append(errs, c.Run.validate()...)
	errs = append(errs, c.Detect.validate()...)
	errs = append(errs, c.Elasticsearch.validate()...)
	errs = append(errs, c.Kibana.validate()...)
	errs = append(errs, c.Notify.validate()...)
	errs = append(errs, c.Kafka.validate()...)
	if c.Kafka.Enabled() {
		if c.Run.Model == "" {
			errs = append(errs, fmt.Errorf("run.model: must be set when kafka.* is set (a consumer group detects; it does not copy flows)"))
		}
		if len(c.Run.Interfaces) > 0 {
			errs = append(errs, fmt.Errorf("run.interfaces: %v are not captured when kafka.* is set (a consumer group reads its topics only); capture them with a daemon of their own", c.Run.Interfaces))
		}
	}
	return errors.Join(errs...)
}

// Load reads the configuration file at path (none when path is empty),
// applies MLADS_ environment overrides and validates the result. Unknown
// keys in the file are errors. env lists the environment as KEY=VALUE pairs
// (os.Environ() in main), so tests need not touch the process environment.
func Load(path string, env []string) (Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	def := Default()
	setDefaults(v, "", reflect.ValueOf(def))

	if path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := applyEnv(v, env); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}

	var c Config
	err := v.UnmarshalExact(&c, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
		// a list from the environment ("0,1") is split for every list,
		// numbers too (the plain hook splits into []string only)
		mapstructure.StringToWeakSliceHookFunc(","),
		checksumsHook,
	)))
	if err != nil {
		where := "defaults"
		if path != "" {
			where = path
		}
		return Config{}, fmt.Errorf("config: %s: %w", where, err)
	}
	if err := c.Validate(); err != nil {
		where := "defaults"
		if path != "" {
			where = path
		}
		return Config{}, fmt.Errorf("config: %s: %w", where, err)
	}
	return c, nil
}

// applyEnv sets every key named by an MLADS_ variable. A variable that names
// no key is an error, like an unknown key in the file: a typo must not be
// silently ignored.
func applyEnv(v *viper.Viper, env []string) error {
	known := map[string]string{}
	for _, k := range v.AllKeys() {
		known[EnvPrefix+"_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))] = k
	}
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix+"_") {
			continue
		}
		key, ok := known[name]
		if !ok {
			return fmt.Errorf("environment variable %s names no configuration key", name)
		}
		v.Set(key, val)
	}
	return nil
}

// setDefaults registers every field of the default configuration with
// viper, so that each one is a known key (for env overrides and for
// UnmarshalExact) and has its default value.
func setDefaults(v *viper.Viper, prefix string, val reflect.Value) {
	t := val.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		if tag == "" || tag == "-" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		fv := val.Field(i)
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeOf(time.Duration(0)) {
			setDefaults(v, key, fv)
			continue
		}
		v.SetDefault(key, fv.Interface())
	}
}
