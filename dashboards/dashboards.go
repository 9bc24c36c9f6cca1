// Package dashboards holds the Kibana saved objects mlads ships (data
// views, a saved search, Lens visualizations and dashboards) as the
// ndjson files Kibana's saved-objects import API takes. They are built
// into the binary, so `mlads setup` imports them from anywhere; gen/
// writes them, and the tests check them against the index mapping and the
// real engine.
package dashboards

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
)

//go:embed *.ndjson
var files embed.FS

// File is one saved-objects file.
type File struct {
	Name string
	Data []byte
}

// Files returns the embedded saved-objects files, sorted by name.
func Files() ([]File, error) {
	names, err := fs.Glob(files, "*.ndjson")
	if err != nil {
		return nil, fmt.Errorf("dashboards: %w", err)
	}
	slices.Sort(names)
	out := make([]File, 0, len(names))
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("dashboards: %w", err)
		}
		out = append(out, File{Name: n, Data: b})
	}
	return out, nil
}
