package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/backend/s3/s3test"
	"github.com/vmarchive/vmarchive/internal/testenv"
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
// moments shows no partial point, verifies clean, and a re-run succeeds;
// once the manifest is durable the point is whole and listed.
func TestS3CrashSafety(t *testing.T) {
	srv := s3test.Start(t)
	repo := srv.URL(srv.Bucket(t), "crash")
	cache := t.TempDir()
	env := []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true", "XDG_CACHE_HOME=" + cache}
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
		// A durable manifest is a whole point: the refresh at open takes
		// it into the catalog.
		whole := moment != "chunks-durable"
		if n := len(pts); whole && n != i+1 || !whole && n != i {
			t.Fatalf("%s: %d points, want %d committed before", moment, n, i)
		}
		if out := s3run("verify"); !strings.Contains(out, "0 problems") {
			t.Fatalf("%s: verify: %s", moment, out)
		}
		if !whole {
			s3run(args...)
		}
		out := filepath.Join(t.TempDir(), "out.raw")
		s3run("cat", "--vm", "crash", "--point", point, "--disk", "d0", "-o", out)
		if !bytes.Equal(readFile(t, out), readFile(t, disk)) {
			t.Fatalf("%s: point reads back wrong after re-run", moment)
		}
	}
	// catalog rebuild on a host that lost its cache.
	os.RemoveAll(filepath.Join(cache, "vmarchive"))
	if out := s3run("catalog", "rebuild"); !strings.Contains(out, "catalog rebuilt: 3 points") {
		t.Fatalf("catalog rebuild: %s", out)
	}
}

// TestS3Mount: a bucket's repository mounts; its disk reads back
// byte-exact, and commands run meanwhile (points, cat) reach the mount
// through the control socket in the catalog cache.
func TestS3Mount(t *testing.T) {
	testenv.NeedFUSE(t)
	srv := s3test.Start(t)
	repo := srv.URL(srv.Bucket(t), "m")
	env := []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true", "XDG_CACHE_HOME=" + t.TempDir()}
	disk := randomDisk(t, 1<<20)
	for _, args := range [][]string{{"init", "--chunk-size", "256KiB"}, {"ingest", "--vm", "web01", "--no-index", "d0=" + disk}} {
		if r := run(t, repo, env, args...); r.code != 0 {
			t.Fatalf("vmarchive %s: exit %d\n%s", args[0], r.code, r.stderr)
		}
	}
	mnt := t.TempDir()
	cmd := exec.Command(vmarchiveBin(t), "mount", mnt)
	cmd.Env = append(append(os.Environ(), "VMARCHIVE_REPO="+repo, "HOME="+t.TempDir()), env...)
	log := &lockedBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	for i := 0; !strings.Contains(log.String(), repo+" mounted at"); i++ {
		if i > 600 {
			t.Fatalf("mount did not come up:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := run(t, repo, env, "points")
	if r.code != 0 || !strings.Contains(r.stdout, "web01") {
		t.Fatalf("points beside the mount: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var pts []catalog.Manifest
	r = run(t, repo, env, "points", "--json")
	json.Unmarshal([]byte(r.stdout), &pts)
	if len(pts) != 1 {
		t.Fatalf("points --json: %s", r.stdout)
	}
	img := filepath.Join(mnt, "web01", "latest", "d0.img")
	out := filepath.Join(t.TempDir(), "out.raw")
	r = run(t, repo, env, "cat", "--vm", "web01", "--point", "latest", "--disk", "d0", "-o", out)
	if r.code != 0 || !bytes.Equal(readFile(t, out), readFile(t, disk)) {
		t.Fatalf("cat beside the mount: exit %d, or the disk differs\n%s", r.code, r.stderr)
	}
	if !bytes.Equal(readFile(t, img), readFile(t, disk)) {
		t.Fatal("the mounted disk differs")
	}
}
