package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLookupFollowsEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvVar, dir)
	got, ok := Lookup()
	if !ok || got != dir {
		t.Fatalf("Lookup() = %q, %v; want %q, true", got, ok, dir)
	}
	t.Setenv(EnvVar, filepath.Join(dir, "absent"))
	if _, ok := Lookup(); ok {
		t.Fatal("Lookup() found a folder that does not exist")
	}
}

func TestModuleRoot(t *testing.T) {
	root, ok := moduleRoot()
	if !ok {
		t.Fatal("moduleRoot() found no go.mod above the test")
	}
	if want, _ := filepath.Abs(filepath.Join("..", "..")); root != want {
		t.Errorf("moduleRoot() = %q, want %q", root, want)
	}
}

func TestLines(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvVar, dir)
	if err := os.WriteFile(filepath.Join(dir, "a.log"), []byte("1\n2\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := Lines(2, "a.log", "absent.log")
	if len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Errorf("Lines(2, a.log, absent.log) = %q, want [1 2]", got)
	}
}
