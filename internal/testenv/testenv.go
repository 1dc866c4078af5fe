// Package testenv says whether a test can run here: the tools it drives,
// root, /dev/fuse. Without them a test skips on a developer's machine but
// fails under CI=true, where `make deps` must have installed everything.
//
// Only tests import it, so the readers' own imports stay std-only.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// CI reports whether the tests run under CI (CI=true), where nothing may
// be skipped for a missing tool.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing skips t with why, or fails it under CI.
func Missing(t testing.TB, why string) {
	t.Helper()
	if CI() {
		t.Fatalf("%s (required under CI; make deps installs the tools)", why)
	}
	t.Skip(why)
}

// NeedTools skips (fails under CI) unless every named command is on PATH.
func NeedTools(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			Missing(t, n+" is not installed")
		}
	}
}

// NeedRoot skips (fails under CI) unless the test runs as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root")
	}
}

// NeedFUSE skips (fails under CI) unless the test can mount FUSE file
// systems: root and /dev/fuse.
func NeedFUSE(t testing.TB) {
	t.Helper()
	NeedRoot(t)
	if _, err := os.Stat("/dev/fuse"); err != nil {
		Missing(t, "no /dev/fuse")
	}
}
