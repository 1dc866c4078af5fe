// Package testenv says whether a test can run here: the tools it drives,
// root, /dev/fuse. Without them a test skips on a developer's machine but
// fails under CI=true, where `make deps` must have installed everything.
//
// Only tests import it, so the readers' own imports stay std-only.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
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

// GoTool returns the path of a tool `make deps` installs with go install:
// found on PATH, else in GOBIN or the first GOPATH's bin (default ~/go/bin),
// which need not be on PATH. Missing: skips, or fails under CI.
func GoTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, filepath.Join(filepath.SplitList(gp)[0], "bin"))
	} else if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	Missing(t, name+" is not installed (make deps runs go install)")
	return ""
}
