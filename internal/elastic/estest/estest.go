// Package estest is for tests only: it finds the Elasticsearch node the
// tests use ($ES_URL) and keeps tests of several packages, which `go test
// ./...` runs at once, from changing the shared templates under each
// other.
package estest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// URL returns the test node's URL, or skips the test when ES_URL is unset.
func URL(tb testing.TB) string {
	tb.Helper()
	u := strings.TrimRight(os.Getenv("ES_URL"), "/")
	if u == "" {
		tb.Skip("ES_URL is unset: start a node with ../shared/esnode/esnode-ci.sh start and set ES_URL to the URL it prints")
	}
	return u
}

// Lock holds a lock on the node's shared state (index templates, policies)
// until the test ends: shared for tests that install or rely on mlads's
// templates, exclusive for tests that break or downgrade them on purpose.
// It is a file lock, so it holds across the test binaries of different
// packages.
func Lock(tb testing.TB, exclusive bool) {
	tb.Helper()
	path := filepath.Join(os.TempDir(), "mlads-es-test-"+strings.NewReplacer(":", "_", "/", "_").Replace(os.Getenv("ES_URL"))+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	if err := flock(f, exclusive); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = f.Close() })
}
