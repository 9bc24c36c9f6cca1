//go:build !(libpcap && cgo)

package capture

import "errors"

// libpcapBuilt says whether this build has the libpcap engine.
const libpcapBuilt = false

// openLibpcap is the libpcap engine, present only in builds with the
// libpcap tag (and cgo): go build -tags libpcap ./cmd/mlads.
func openLibpcap(Config, string) (handle, error) {
	return nil, errors.New("this mlads was built without libpcap (rebuild with -tags libpcap and cgo; see README, Live capture)")
}
