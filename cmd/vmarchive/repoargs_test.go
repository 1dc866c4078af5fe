package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRepositoryURLRefused: a --repo that names an unsupported backend is
// an error, never a local directory named after the URL.
func TestRepositoryURLRefused(t *testing.T) {
	cwd := t.TempDir()
	disk := randomDisk(t, 4096)
	for _, url := range []string{"gs:https://host/bucket", "sftp:user@host:/srv/repo", "AZURE:http://h/b"} {
		for _, args := range [][]string{{"init"}, {"ingest", "--vm", "web01", "d0=" + disk}, {"points"}} {
			cmd := exec.Command(vmarchiveBin(t), append(args, "--repo", url)...)
			cmd.Dir = cwd
			cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "unknown scheme") {
				t.Errorf("vmarchive %s --repo %s: %v\n%s", strings.Join(args, " "), url, err, out)
			}
		}
	}
	if ents, _ := os.ReadDir(cwd); len(ents) != 0 {
		t.Fatalf("a directory was created from a URL: %v", ents[0].Name())
	}
	// An explicit local path with a colon still works.
	cmd := exec.Command(vmarchiveBin(t), "init", "--repo", "./a:b")
	cmd.Dir = cwd
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("init ./a:b: %v\n%s", err, out)
	}
}

// TestPointTimeRange: times before 1990, the zero time and times more than
// a day ahead are refused before any data is read; every accepted time
// orders correctly, so latest is the newest; a VM named a..b works.
func TestPointTimeRange(t *testing.T) {
	repo := newRepo(t)
	disk := randomDisk(t, 1<<20)
	for _, pt := range []string{"0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "1989-12-31T23:59:59Z", "2999-01-01T00:00:00Z"} {
		r := run(t, repo, nil, "ingest", "--vm", "web01", "--point-time", pt, "d0="+disk)
		if r.code != 2 || !strings.Contains(r.stderr, "--point-time") || !strings.Contains(r.stderr, "1990-01-01T00:00:00Z") {
			t.Errorf("--point-time %s: exit %d\n%s", pt, r.code, r.stderr)
		}
	}
	if out := mustRun(t, repo, "points"); strings.Contains(out, "web01") {
		t.Fatalf("a refused time made a point:\n%s", out)
	}
	newer := randomDisk(t, 1<<20)
	mustRun(t, repo, "ingest", "--vm", "web01", "--no-index", "--point-time", "2026-11-20T01:00:00Z", "d0="+newer)
	mustRun(t, repo, "ingest", "--vm", "web01", "--no-index", "--point-time", "1990-01-01T00:00:00Z", "d0="+disk)
	if got, want := catDisk(t, repo, "web01", "latest", "d0"), readFile(t, newer); string(got) != string(want) {
		t.Fatal("latest is not the newest point")
	}
	mustRun(t, repo, "ingest", "--vm", "a..b", "--no-index", "d0="+disk)
	if out := mustRun(t, repo, "verify"); !strings.Contains(out, "3 points") {
		t.Fatalf("verify:\n%s", out)
	}
}
