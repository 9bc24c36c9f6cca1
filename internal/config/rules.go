package config

// Rules names the analysts' rule files (internal/rules): allowlists,
// suppressions and severity overrides.
type Rules struct {
	// Paths are rule files, directories of *.yaml or globs; none by default.
	Paths []string `mapstructure:"paths"`
}
