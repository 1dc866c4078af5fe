package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/backend/s3/s3test"
)

// TestS3Repository: an encrypted repository in a versitygw bucket, with
// credentials from the AWS variables: init, ingest, copy from a local
// repository, points and byte-exact cats; the catalog cache under XDG_CACHE_HOME is rebuilt from
// the bucket once removed, and holds neither the password nor the S3
// secret key.
func TestS3Repository(t *testing.T) {
	srv := s3test.Start(t)
	repo := srv.URL(srv.Bucket(t), "vm/archive")
	cache := t.TempDir()
	pwFile := filepath.Join(t.TempDir(), "pw")
	password := "s3-test-password-Q7x"
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true", "XDG_CACHE_HOME=" + cache, "VMARCHIVE_PASSWORD_FILE=" + pwFile}
	var outputs []string
	s3run := func(args ...string) string {
		t.Helper()
		r := run(t, repo, env, args...)
		outputs = append(outputs, r.stdout, r.stderr)
		if r.code != 0 {
			t.Fatalf("vmarchive %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		return r.stdout
	}
	out := s3run("init", "--encrypt", "--chunk-size", "256KiB")
	if !strings.Contains(out, "created encrypted repository "+repo) {
		t.Fatalf("init: %s", out)
	}
	disk := randomDisk(t, 3<<20)
	s3run("ingest", "--vm", "web01", "--no-index", "d0="+disk)
	want := readFile(t, disk)
	check := func(when string) {
		t.Helper()
		if out := s3run("points"); !strings.Contains(out, "web01") {
			t.Fatalf("points %s:\n%s", when, out)
		}
		catOut := filepath.Join(t.TempDir(), "out.raw")
		s3run("cat", "--vm", "web01", "--point", "latest", "--disk", "d0", "-o", catOut)
		if !bytes.Equal(readFile(t, catOut), want) {
			t.Fatalf("cat %s: the disk differs", when)
		}
	}
	check("after ingest")
	// copy from a local repository into the bucket.
	local := newRepo(t)
	disk2 := randomDisk(t, 1<<20)
	mustRun(t, local, "ingest", "--vm", "db01", "--no-index", "d0="+disk2)
	s3run("copy", "--from", local, "--to", repo, "--to-password-file", pwFile)
	catOut := filepath.Join(t.TempDir(), "db01.raw")
	s3run("cat", "--vm", "db01", "--point", "latest", "--disk", "d0", "-o", catOut)
	if !bytes.Equal(readFile(t, catOut), readFile(t, disk2)) {
		t.Fatal("cat of the point copied into the bucket: the disk differs")
	}
	ents, _ := os.ReadDir(filepath.Join(cache, "vmarchive"))
	if len(ents) != 1 {
		t.Fatalf("cache holds %d entries, want one repository's", len(ents))
	}
	cacheDir := filepath.Join(cache, "vmarchive", ents[0].Name())
	if _, err := os.Stat(filepath.Join(cacheDir, "catalog")); err != nil {
		t.Fatalf("no catalog in the cache: %v", err)
	}
	noSecrets(t, cacheDir, password, srv.SecretKey)
	if err := os.RemoveAll(cacheDir); err != nil {
		t.Fatal(err)
	}
	check("after the cache was removed")
	noSecrets(t, cacheDir, password, srv.SecretKey)
	for _, o := range outputs {
		if strings.Contains(o, srv.SecretKey) || strings.Contains(o, password) {
			t.Fatalf("output shows a secret:\n%s", o)
		}
	}
	// A wrong secret key is refused at once, and not shown.
	wrong := append(append([]string(nil), env...), "AWS_SECRET_ACCESS_KEY=Wrong"+srv.SecretKey)
	r := run(t, repo, wrong, "points")
	if r.code != 2 || !strings.Contains(r.stderr, "SignatureDoesNotMatch") || strings.Contains(r.stderr+r.stdout, srv.SecretKey) {
		t.Fatalf("points with a wrong secret key: exit %d\n%s", r.code, r.stderr)
	}
	// A bucket without a repository, and a second init, are clear errors.
	r = run(t, srv.URL(srv.Bucket(t), "none"), env, "points")
	if r.code != 2 || !strings.Contains(r.stderr, "no repository here (run vmarchive init)") {
		t.Fatalf("points on an empty bucket: exit %d\n%s", r.code, r.stderr)
	}
	r = run(t, repo, env, "init", "--chunk-size", "256KiB")
	if r.code != 2 || !strings.Contains(r.stderr, repo+": init: the store already holds a repository") {
		t.Fatalf("second init: exit %d\n%s", r.code, r.stderr)
	}
}

// noSecrets fails if any file under dir holds one of the secrets.
func noSecrets(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a secret", p)
			}
		}
		return nil
	})
}

// TestS3CrashSafety: ingest into a bucket killed (kill -9) at the commit's
// moments shows no partial point, verifies clean, and a re-run succeeds.
func TestS3CrashSafety(t *testing.T) {
	srv := s3test.Start(t)
	repo := srv.URL(srv.Bucket(t), "crash")
	env := []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true", "XDG_CACHE_HOME=" + t.TempDir()}
	s3run := func(args ...string) string {
		t.Helper()
		r := run(t, repo, env, args...)
		if r.code != 0 {
			t.Fatalf("vmarchive %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		return r.stdout
	}
	s3run("init", "--chunk-size", "256KiB")
	disk := randomDisk(t, 2<<20)
	for i, moment := range []string{"chunks-durable", "manifest-durable", "committed"} {
		point := fmt.Sprintf("2026-11-20T%02d:00:00Z", i)
		args := []string{"ingest", "--vm", "crash", "--no-index", "--point-time", point, "d0=" + disk}
		r := run(t, repo, append(env, "VMARCHIVE_CRASHPOINT="+moment), args...)
		if r.code != -1 { // killed by a signal
			t.Fatalf("%s: ingest was not killed: exit %d\n%s", moment, r.code, r.stderr)
		}
		var pts []catalog.Manifest
		json.Unmarshal([]byte(s3run("points", "--vm", "crash", "--json")), &pts)
		if n := len(pts); moment == "committed" && n != i+1 || moment != "committed" && n != i {
			t.Fatalf("%s: %d points, want %d committed before", moment, n, i)
		}
		if out := s3run("verify"); !strings.Contains(out, "0 problems") {
			t.Fatalf("%s: verify: %s", moment, out)
		}
		if moment != "committed" {
			s3run(args...)
		}
		out := filepath.Join(t.TempDir(), "out.raw")
		s3run("cat", "--vm", "crash", "--point", point, "--disk", "d0", "-o", out)
		if !bytes.Equal(readFile(t, out), readFile(t, disk)) {
			t.Fatalf("%s: point reads back wrong after re-run", moment)
		}
	}
}
