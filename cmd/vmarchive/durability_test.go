package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
)

// smallDisks writes two 3 MiB raw disks (12 chunks of 256 KiB) that share
// their first half, and a zero hole in each.
func smallDisks(t *testing.T) (a, b string) {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(13))
	da := make([]byte, 3<<20)
	rng.Read(da)
	clear(da[1<<20 : 1<<20+256<<10])
	db := bytes.Clone(da)
	rng.Read(db[3<<19:])
	a, b = filepath.Join(dir, "a.raw"), filepath.Join(dir, "b.raw")
	if err := os.WriteFile(a, da, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, db, 0o600); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// killedAt runs vmarchive with args until it kills itself at crashpoint.
func killedAt(t *testing.T, repo, crashpoint string, args ...string) {
	t.Helper()
	cmd := exec.Command(vmarchiveBin(t), args...)
	cmd.Env = append(os.Environ(), "VMARCHIVE_REPO="+repo, "VMARCHIVE_CRASHPOINT="+crashpoint)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("vmarchive %s was not killed at %s: %v\n%s", strings.Join(args, " "), crashpoint, err, out)
	}
}

// pointNames lists the repository's points as "vm/time".
func pointNames(t *testing.T, repo string) []string {
	t.Helper()
	var pts []catalog.Manifest
	if err := json.Unmarshal([]byte(mustRun(t, repo, "points", "--json")), &pts); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pts {
		out = append(out, p.VM+"/"+p.Name())
	}
	sort.Strings(out)
	return out
}

// expectPoints checks that exactly the points of want exist, each disk0
// reading back as its image, and that check --read-data is clean.
func expectPoints(t *testing.T, repo string, want map[string]string) {
	t.Helper()
	var names []string
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	if got := pointNames(t, repo); strings.Join(got, " ") != strings.Join(names, " ") {
		t.Fatalf("points %q, want %q", got, names)
	}
	for _, n := range names {
		vm, point, _ := strings.Cut(n, "/")
		if !bytes.Equal(catDisk(t, repo, vm, point, "disk0"), readFile(t, want[n])) {
			t.Fatalf("%s does not read back as %s", n, want[n])
		}
	}
	if out := mustRun(t, repo, "check", "--read-data"); !strings.Contains(out, "0 problems, 0 manifest disagreements") || !strings.Contains(out, "data: read") || strings.Contains(out, "data: read 0 chunks") {
		t.Fatalf("check --read-data:\n%s", out)
	}
}

// TestGCAdoptsManifestOfKilledIngest: an ingest killed after its manifest
// is durable and before the catalog batch leaves a whole point in the
// store; gc adds it to the catalog instead of deleting its data.
func TestGCAdoptsManifestOfKilledIngest(t *testing.T) {
	a, b := smallDisks(t)
	repo := newRepo(t)
	p1, p2 := "2026-11-20T01:00:00Z", "2026-11-21T01:00:00Z"
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", p1, "disk0="+a)
	killedAt(t, repo, "manifest-durable", "ingest", "--vm", "web01", "--point-time", p2, "disk0="+b)
	if got := pointNames(t, repo); len(got) != 1 {
		t.Fatalf("points after the kill: %q", got)
	}
	out := mustRun(t, repo, "gc", "--dry-run")
	if !strings.Contains(out, "would add point web01/"+p2) || !strings.Contains(out, "would delete 0 objects") || len(pointNames(t, repo)) != 1 {
		t.Fatalf("gc --dry-run:\n%s", out)
	}
	out = mustRun(t, repo, "gc")
	if !strings.Contains(out, "added point web01/"+p2+" to the catalog") || !strings.Contains(out, "deleted 0 objects") {
		t.Fatalf("gc:\n%s", out)
	}
	want := map[string]string{"web01/" + p1: a, "web01/" + p2: b}
	expectPoints(t, repo, want)
	mustRun(t, repo, "catalog", "rebuild")
	expectPoints(t, repo, want)
}

// TestGCKeepsManifestWithLostObjects: a manifest the catalog lacks whose
// objects are not all in the store is not added as a good point; gc says
// so and keeps its other objects.
func TestGCKeepsManifestWithLostObjects(t *testing.T) {
	a, b := smallDisks(t)
	repo := newRepo(t)
	p1, p2 := "2026-11-20T01:00:00Z", "2026-11-21T01:00:00Z"
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", p1, "disk0="+a)
	before := storeFiles(t, repo)
	killedAt(t, repo, "manifest-durable", "ingest", "--vm", "web01", "--point-time", p2, "disk0="+b)
	var fresh []string // data chunks only the killed ingest wrote
	for _, f := range storeFiles(t, repo) {
		if fi, _ := os.Stat(f); !slicesContains(before, f) && strings.Contains(f, "/data/") && fi.Size() > 200<<10 {
			fresh = append(fresh, f)
		}
	}
	if len(fresh) < 2 {
		t.Fatalf("the killed ingest wrote %d objects", len(fresh))
	}
	if err := os.Remove(fresh[0]); err != nil {
		t.Fatal(err)
	}
	r := run(t, repo, nil, "gc")
	if r.code != 0 || strings.Contains(r.stdout, "added point") || !strings.Contains(r.stdout, "deleted 0 objects") ||
		!strings.Contains(r.stderr, "web01/"+p2) || !strings.Contains(r.stderr, "1 of the objects it references are missing") {
		t.Fatalf("gc: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, f := range fresh[1:] {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("gc removed an object of the kept manifest: %v", err)
		}
	}
	if got := pointNames(t, repo); len(got) != 1 {
		t.Fatalf("points: %q", got)
	}
	// What gc advises: rebuild lists the point, forget removes it.
	mustRun(t, repo, "catalog", "rebuild")
	if r := run(t, repo, nil, "verify"); r.code != 1 || !strings.Contains(r.stdout, "used by web01/"+p2) {
		t.Fatalf("verify after rebuild: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustRun(t, repo, "forget", "--vm", "web01", "--point", p2)
	mustRun(t, repo, "gc")
	expectPoints(t, repo, map[string]string{"web01/" + p1: a})
}

// TestGCAfterCatalogRollback: a catalog restored from a copy older than
// the store must not make gc delete what a newer point needs.
func TestGCAfterCatalogRollback(t *testing.T) {
	a, b := smallDisks(t)
	repo := newRepo(t)
	p1, p2 := "2026-11-20T01:00:00Z", "2026-11-21T01:00:00Z"
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", p1, "disk0="+a)
	saved := filepath.Join(t.TempDir(), "catalog")
	sh(t, "cp", "-a", filepath.Join(repo, "catalog"), saved)
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", p2, "disk0="+b)
	os.RemoveAll(filepath.Join(repo, "catalog"))
	sh(t, "cp", "-a", saved, filepath.Join(repo, "catalog"))
	if got := pointNames(t, repo); len(got) != 1 {
		t.Fatalf("points of the old catalog: %q", got)
	}
	if out := mustRun(t, repo, "gc"); !strings.Contains(out, "deleted 0 objects") || !strings.Contains(out, "added point web01/"+p2) {
		t.Fatalf("gc:\n%s", out)
	}
	expectPoints(t, repo, map[string]string{"web01/" + p1: a, "web01/" + p2: b})
}

// TestGCAfterRollbackToForgottenPoint: the restored catalog lists a point
// that was forgotten and collected since. gc keeps going, drops the keys
// of the lost chunks (so ingests store them again rather than reuse
// them) and names the point; forget then removes it.
func TestGCAfterRollbackToForgottenPoint(t *testing.T) {
	a, _ := smallDisks(t)
	u := uniqueDisk(t, 1)
	repo := newRepo(t)
	p1, p2, p3 := "2026-11-20T01:00:00Z", "2026-11-21T01:00:00Z", "2026-11-22T01:00:00Z"
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", p1, "disk0="+u)
	saved := filepath.Join(t.TempDir(), "catalog")
	sh(t, "cp", "-a", filepath.Join(repo, "catalog"), saved)
	mustRun(t, repo, "forget", "--vm", "web01", "--point", p1)
	mustRun(t, repo, "gc")
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", p2, "disk0="+a)
	os.RemoveAll(filepath.Join(repo, "catalog"))
	sh(t, "cp", "-a", saved, filepath.Join(repo, "catalog"))
	r := run(t, repo, nil, "gc")
	if r.code != 0 || !strings.Contains(r.stdout, "added point web01/"+p2) || !strings.Contains(r.stderr, "web01/"+p1+": in the catalog but its manifest") {
		t.Fatalf("gc: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", p3, "disk0="+u)
	mustRun(t, repo, "forget", "--vm", "web01", "--point", p1)
	expectPoints(t, repo, map[string]string{"web01/" + p2: a, "web01/" + p3: u})
}

// TestRerunAfterManifestCrash: re-running an ingest killed between its
// manifest and its catalog batch leaves a repository that checks clean.
func TestRerunAfterManifestCrash(t *testing.T) {
	a, _ := smallDisks(t)
	repo := newRepo(t)
	p1 := "2026-11-20T01:00:00Z"
	killedAt(t, repo, "manifest-durable", "ingest", "--vm", "web01", "--point-time", p1, "disk0="+a)
	manifest := filepath.Join(repo, "store", "points", "web01", p1)
	killed := readFile(t, manifest)
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", p1, "disk0="+a)
	expectPoints(t, repo, map[string]string{"web01/" + p1: a})

	// A repository left by a version whose re-run kept the killed run's
	// manifest: check names the disagreement and gc settles it.
	if err := os.WriteFile(manifest, killed, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run(t, repo, nil, "check"); r.code != 1 || !strings.Contains(r.stdout, "differs from the catalog's copy (vmarchive gc") {
		t.Fatalf("check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if out := mustRun(t, repo, "gc"); !strings.Contains(out, "added point web01/"+p1) {
		t.Fatalf("gc:\n%s", out)
	}
	expectPoints(t, repo, map[string]string{"web01/" + p1: a})
}

// TestReingestHealsLostChunks: once verify or check has found a chunk
// damaged or missing, ingesting the same data again stores it anew, and
// the older points that share it read back whole, even after a catalog
// rebuild in between: the damaged chunk is in quarantine/, not data/.
func TestReingestHealsLostChunks(t *testing.T) {
	for _, finder := range [][]string{{"verify"}, {"check", "--read-data"}} {
		t.Run(finder[0], func(t *testing.T) {
			a, _ := smallDisks(t)
			repo := newRepo(t)
			p1, p2 := "2026-11-20T01:00:00Z", "2026-11-21T01:00:00Z"
			mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", p1, "disk0="+a)
			chunks := storeFiles(t, repo)
			var data []string
			for _, f := range chunks {
				if fi, _ := os.Stat(f); strings.Contains(f, "/data/") && fi.Size() > 200<<10 {
					data = append(data, f)
				}
			}
			if len(data) < 2 {
				t.Fatalf("%d data chunks", len(data))
			}
			// Flip a bit in one chunk file, delete another.
			raw := readFile(t, data[0])
			raw[len(raw)/2] ^= 0x10
			os.WriteFile(data[0], raw, 0o600)
			os.Remove(data[1])
			r := run(t, repo, nil, finder...)
			// check names the missing chunk twice: in its structure and data passes.
			if r.code != 1 || strings.Count(r.stdout, "forgotten by the catalog") < 2 || !strings.Contains(r.stdout, "damaged ") || !strings.Contains(r.stdout, "missing ") {
				t.Fatalf("%s: exit %d\n%s%s", finder[0], r.code, r.stdout, r.stderr)
			}
			// The damaged bytes left data/ for quarantine/, so a catalog
			// rebuild does not bring the chunk back into the catalog.
			q := filepath.Join(repo, "store", "quarantine", filepath.Base(data[0]))
			if !strings.Contains(r.stdout, "moved to quarantine/"+filepath.Base(data[0])) || !bytes.Equal(readFile(t, q), raw) {
				t.Fatalf("%s did not move the damaged chunk to %s:\n%s", finder[0], q, r.stdout)
			}
			if _, err := os.Stat(data[0]); !os.IsNotExist(err) {
				t.Fatalf("damaged chunk still in data/: %v", err)
			}
			mustRun(t, repo, "catalog", "rebuild")
			mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", p2, "disk0="+a)
			if out := mustRun(t, repo, "verify"); !strings.Contains(out, "0 problems") {
				t.Fatalf("verify after the re-ingest:\n%s", out)
			}
			expectPoints(t, repo, map[string]string{"web01/" + p1: a, "web01/" + p2: a})
			// gc keeps the quarantined bytes; check does not count them.
			mustRun(t, repo, "gc")
			if !bytes.Equal(readFile(t, q), raw) {
				t.Fatal("gc removed the quarantined chunk")
			}
			if out := mustRun(t, repo, "check"); !strings.Contains(out, "0 problems") {
				t.Fatalf("check after the re-ingest:\n%s", out)
			}
		})
	}
}

// TestKillAtEveryCommitMoment kills ingest, forget and gc at each of
// their commit moments; after each, gc and catalog rebuild leave every
// remaining point byte-exact and check --read-data clean.
func TestKillAtEveryCommitMoment(t *testing.T) {
	a, b := smallDisks(t)
	repo := newRepo(t)
	want := map[string]string{}
	hour := 0
	ingest := func(img string) string {
		hour++
		p := fmt.Sprintf("2026-11-20T%02d:00:00Z", hour)
		mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", p, "disk0="+img)
		want["web01/"+p] = img
		return p
	}
	ingest(a)
	steps := []struct {
		moment string
		do     func() // runs the command killed at moment, updates want
	}{}
	for _, m := range []string{"chunks-durable", "manifest-durable", "committed"} {
		steps = append(steps, struct {
			moment string
			do     func()
		}{m, func() {
			hour++
			p := fmt.Sprintf("2026-11-20T%02d:00:00Z", hour)
			killedAt(t, repo, m, "ingest", "--vm", "web01", "--point-time", p, "disk0="+b)
			if m != "chunks-durable" { // a durable manifest is a whole point
				want["web01/"+p] = b
			}
		}})
	}
	for _, m := range []string{"forget-manifests-gone", "forget-committed", "gc-keys-removed"} {
		steps = append(steps, struct {
			moment string
			do     func()
		}{m, func() {
			p := ingest(uniqueDisk(t, int64(hour)))
			if strings.HasPrefix(m, "gc") {
				mustRun(t, repo, "forget", "--vm", "web01", "--point", p)
				delete(want, "web01/"+p)
				killedAt(t, repo, m, "gc")
				return
			}
			killedAt(t, repo, m, "forget", "--vm", "web01", "--point", p)
			delete(want, "web01/"+p)
		}})
	}
	steps = append(steps, struct {
		moment string
		do     func()
	}{"gc-adopted", func() {
		hour++
		p := fmt.Sprintf("2026-11-20T%02d:00:00Z", hour)
		killedAt(t, repo, "manifest-durable", "ingest", "--vm", "web01", "--point-time", p, "disk0="+a)
		want["web01/"+p] = a
		killedAt(t, repo, "gc-adopted", "gc")
	}})
	for _, s := range steps {
		t.Run(s.moment, func(t *testing.T) {
			s.do()
			if r := run(t, repo, nil, "gc"); r.code != 0 {
				t.Fatalf("gc: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			// A point whose forget was interrupted may still be listed
			// until rebuild (forget again would remove it); the rest read.
			for n, img := range want {
				vm, point, _ := strings.Cut(n, "/")
				if !bytes.Equal(catDisk(t, repo, vm, point, "disk0"), readFile(t, img)) {
					t.Fatalf("after gc, %s does not read back as %s", n, img)
				}
			}
			mustRun(t, repo, "catalog", "rebuild")
			expectPoints(t, repo, want)
		})
	}
}

// uniqueDisk writes a 1 MiB raw disk of random data from seed.
func uniqueDisk(t *testing.T, seed int64) string {
	t.Helper()
	d := make([]byte, 1<<20)
	rand.New(rand.NewSource(1000 + seed)).Read(d)
	p := filepath.Join(t.TempDir(), fmt.Sprintf("u%d.raw", seed))
	if err := os.WriteFile(p, d, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// storeFiles lists the files under the repository's store.
func storeFiles(t *testing.T, repo string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(repo, "store"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
