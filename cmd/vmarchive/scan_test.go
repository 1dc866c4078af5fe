package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanCommand: vmarchive scan's exit status, last line and points'
// SCAN column, with the built-in rules (nothing trips between the demo
// disk's versions) and with a rule file naming a file version 2 adds as a
// ransom note.
func TestScanCommand(t *testing.T) {
	v1, v2 := demoDisks(t)
	repo := newRepo(t)
	p1, p2 := "2026-11-20T01:00:00Z", "2026-11-21T01:00:00Z"
	mustRun(t, repo, "ingest", "--vm", "demo", "--point-time", p1, "disk0="+v1)
	mustRun(t, repo, "ingest", "--vm", "demo", "--point-time", p2, "disk0="+v2)

	out := mustRun(t, repo, "scan", "demo", "--find-last-clean")
	if last := lastLine(out); last != p2 {
		t.Errorf("last line %q, want %s:\n%s", last, p2, out)
	}
	rules := filepath.Join(t.TempDir(), "site.rules")
	if err := os.WriteFile(rules, []byte("note notes.txt   # this site's ransom note\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, repo, nil, "scan", "demo", "--rules", rules, "--find-last-clean")
	if r.code != 1 || lastLine(r.stdout) != p1 || !strings.Contains(r.stdout, "disk0/p2/home/ann/Documents/notes.txt") {
		t.Errorf("with the rule: exit %d, want 1, last line %s:\n%s%s", r.code, p1, r.stdout, r.stderr)
	}
	r = run(t, repo, nil, "scan", "demo", "--rules", rules, "--json")
	if r.code != 1 || !strings.Contains(r.stdout, `"last_clean": "`+p1+`"`) || !strings.Contains(r.stdout, `"kind": "ransom-note"`) {
		t.Errorf("--json: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if out := mustRun(t, repo, "points", "--vm", "demo"); !strings.Contains(out, "SCAN") || !strings.Contains(out, "ALERT: ransom-note") {
		t.Errorf("points:\n%s", out)
	}
	if err := os.WriteFile(rules, []byte("rename-min many\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = run(t, repo, nil, "scan", "demo", "--rules", rules)
	if want := `rules ` + rules + ` line 1: rename-min "many": want a whole number`; r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("bad rules: exit %d, stderr %q, want 2 and %q", r.code, r.stderr, want)
	}
	if r := run(t, repo, nil, "scan", "nosuchvm"); r.code != 2 || !strings.Contains(r.stderr, `VM "nosuchvm" has no points`) {
		t.Errorf("unknown VM: exit %d, stderr %q", r.code, r.stderr)
	}
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return l[len(l)-1]
}
