package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/format"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// copyImages builds two versions of a 40 MiB ext4 disk with mke2fs -d:
// the second changes one file and adds one.
func copyImages(t *testing.T) (v1, v2 string) {
	t.Helper()
	testenv.NeedTools(t, "mke2fs")
	dir := t.TempDir()
	for version := 1; version <= 2; version++ {
		tree := filepath.Join(dir, fmt.Sprint("tree", version))
		rng := rand.New(rand.NewSource(5))
		for i := range 8 {
			b := make([]byte, 1<<20+rng.Intn(1<<20))
			rng.Read(b)
			if version == 2 && i == 2 {
				copy(b[5000:], bytes.Repeat([]byte("v2 "), 30000))
			}
			os.MkdirAll(filepath.Join(tree, "d"), 0o755)
			if err := os.WriteFile(filepath.Join(tree, "d", fmt.Sprint("f", i)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if version == 2 {
			b := make([]byte, 2<<20)
			rng.Read(b)
			os.WriteFile(filepath.Join(tree, "added"), b, 0o644)
		}
		img := filepath.Join(dir, fmt.Sprint("v", version, ".img"))
		sh(t, "mke2fs", "-q", "-F", "-t", "ext4", "-d", tree, img, "40M")
		if version == 1 {
			v1 = img
		} else {
			v2 = img
		}
	}
	return v1, v2
}

// copySource is a repository (256 KiB chunks) with two points of web01.
func copySource(t *testing.T) (repo, v1, v2 string) {
	t.Helper()
	v1, v2 = copyImages(t)
	repo = newRepo(t)
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", "2026-11-20T01:00:00Z", "disk0="+v1)
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", "2026-11-21T01:00:00Z", "disk0="+v2)
	return repo, v1, v2
}

func initRepo(t *testing.T, chunkSize string) string {
	repo := filepath.Join(t.TempDir(), "repo")
	mustRun(t, repo, "init", "--chunk-size", chunkSize)
	return repo
}

func copyJSON(t *testing.T, from, to string, env []string, args ...string) ingest.CopyStats {
	t.Helper()
	r := run(t, "", env, append([]string{"copy", "--from", from, "--to", to, "--json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("copy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var st ingest.CopyStats
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("copy --json: %v\n%s", err, r.stdout)
	}
	return st
}

// expectCopied checks that dst's two web01 points read back as the images.
func expectCopied(t *testing.T, dst, v1, v2 string) {
	t.Helper()
	for point, img := range map[string]string{"2026-11-20T01:00:00Z": v1, "2026-11-21T01:00:00Z": v2} {
		if !bytes.Equal(catDisk(t, dst, "web01", point, "disk0"), readFile(t, img)) {
			t.Fatalf("point %s reads back wrong in the destination", point)
		}
	}
}

// dataChunks returns the stored size of every data chunk the points of
// the (closed) repository reference.
func dataChunks(t *testing.T, dir string) map[catalog.ChunkID]int64 {
	t.Helper()
	ctx := context.Background()
	r, err := catalog.Open(ctx, dir, catalog.Options{Command: "test", ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sizes := map[string]int64{}
	r.Backend().List(ctx, "data/", func(name string, size int64) error { sizes[name] = size; return nil })
	out := map[catalog.ChunkID]int64{}
	ps, err := r.Points("")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		for i := range p.Disks {
			m, err := r.OpenDiskMap(ctx, p, &p.Disks[i])
			if err != nil {
				t.Fatal(err)
			}
			err = m.Extents(ctx, 0, m.Size(), func(e catalog.Extent) error {
				if !e.ID.IsZero() {
					out[e.ID] = sizes[e.ID.ObjectName()]
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// knownBytes sums the sizes of the chunks of want the (closed) repository
// in dir knows.
func knownBytes(t *testing.T, dir string, want map[catalog.ChunkID]int64) (n int64) {
	t.Helper()
	r, err := catalog.Open(context.Background(), dir, catalog.Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w := r.NewWriter()
	for id, size := range want {
		if ok, err := w.Known(context.Background(), id); err != nil {
			t.Fatal(err)
		} else if ok {
			n += size
		}
	}
	return n
}

// TestCopyResumesAfterKill kills real copies at several moments (during
// the first point's data, after its commit, at the second point's
// manifest; map-level and re-cut); each re-run sends exactly the data
// chunks the killed run had not made known, and the copied points read
// back as the images.
func TestCopyResumesAfterKill(t *testing.T) {
	src, v1, v2 := copySource(t)
	env := []string{"VMARCHIVE_CHECKPOINT_BYTES=1048576"}
	type reference struct {
		all   map[catalog.ChunkID]int64
		total int64
	}
	refs := map[string]reference{} // by chunk size: an uninterrupted copy
	for _, c := range []struct{ chunkSize, moment string }{
		{"256KiB", "checkpoint:3"},
		{"256KiB", "copy-point:1"},
		{"256KiB", "manifest-durable:2"},
		{"1MiB", "checkpoint:4"},
	} {
		t.Run(c.chunkSize+"-"+c.moment, func(t *testing.T) {
			ref, ok := refs[c.chunkSize]
			if !ok {
				dir := initRepo(t, c.chunkSize)
				full := copyJSON(t, src, dir, env)
				ref.all = dataChunks(t, dir)
				for _, n := range ref.all {
					ref.total += n
				}
				if full.BytesSent != ref.total || full.PointsCopied != 2 {
					t.Fatalf("uninterrupted copy: %+v; want 2 points, %d bytes sent", full, ref.total)
				}
				refs[c.chunkSize] = ref
			}
			all, total := ref.all, ref.total

			dst := initRepo(t, c.chunkSize)
			cmd := exec.Command(vmarchiveBin(t), "copy", "--from", src, "--to", dst)
			cmd.Env = append(append(os.Environ(), env...), "VMARCHIVE_CRASHPOINT="+c.moment)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("copy was not killed at %s: %v\n%s", c.moment, err, out)
			}
			arrived := knownBytes(t, dst, all)
			if arrived == 0 {
				t.Fatalf("killed at %s: nothing recorded as arrived", c.moment)
			}
			again := copyJSON(t, src, dst, env)
			if again.BytesSent != total-arrived {
				t.Errorf("re-run sent %d bytes; want %d (all %d, %d arrived before the kill)", again.BytesSent, total-arrived, total, arrived)
			}
			t.Logf("%s: %d of %d bytes arrived before the kill, re-run sent %d", c.moment, arrived, total, again.BytesSent)
			expectCopied(t, dst, v1, v2)
			if out := mustRun(t, dst, "verify"); !strings.Contains(out, "0 problems") {
				t.Fatalf("verify after re-run: %s", out)
			}
		})
	}
}

// TestCopyThroughMount: with the destination mounted the copy runs in the
// mount's process and the new points appear in the mount; with the source
// mounted it runs in the source's; with both mounted it says so.
func TestCopyThroughMount(t *testing.T) {
	testenv.NeedFUSE(t)
	src, v1, v2 := copySource(t)

	dst := initRepo(t, "256KiB")
	mnt, _ := startMount(t, dst)
	r := run(t, "", nil, "copy", "--from", src, "--to", dst)
	if r.code != 0 || !strings.Contains(r.stdout, "copied 2 points") {
		t.Fatalf("copy into a mounted destination: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	img := filepath.Join(mnt, "web01", "2026-11-21T01:00:00Z", "disk0.img")
	if got, err := os.ReadFile(img); err != nil || !bytes.Equal(got, readFile(t, v2)) {
		t.Fatalf("copied point in the destination's mount: %v", err)
	}

	dst2 := initRepo(t, "1MiB")
	startMount(t, src)
	r = run(t, "", nil, "copy", "--from", src, "--to", dst2, "--vm", "web01")
	if r.code != 0 || !strings.Contains(r.stdout, "copied 2 points") || !strings.Contains(r.stdout, "re-cut") {
		t.Fatalf("copy from a mounted source: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	expectCopied(t, dst2, v1, v2)

	dst3 := initRepo(t, "256KiB")
	startMount(t, dst3)
	r = run(t, "", nil, "copy", "--from", src, "--to", dst3)
	if r.code != 2 || !strings.Contains(r.stderr, "both repositories are held") {
		t.Fatalf("copy between two mounted repositories: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// encryptedRepo makes an encrypted repository whose password is in the
// returned file (0600).
func encryptedRepo(t *testing.T, password string) (repo, pwFile string) {
	t.Helper()
	dir := t.TempDir()
	repo, pwFile = filepath.Join(dir, "repo"), filepath.Join(dir, "pw")
	if _, err := catalog.Init(context.Background(), repo, catalog.InitOptions{Chunking: format.DefaultChunking(256 << 10), Encrypt: true, Password: []byte(password)}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return repo, pwFile
}

// encryptedDisk reads a point's disk0 of an encrypted repository.
func encryptedDisk(t *testing.T, repo, password, point string) []byte {
	t.Helper()
	ctx := context.Background()
	r, err := catalog.Open(ctx, repo, catalog.Options{Command: "test", ReadOnly: true, Password: func() ([]byte, error) { return []byte(password), nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := r.Point("web01", point)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.OpenDisk(ctx, p, "disk0")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := d.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// noSecret fails if password is in any file under dir or in texts.
func noSecret(t *testing.T, password, dir string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, password) {
			t.Fatalf("password in output: %q", s)
		}
	}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(password)) {
				t.Errorf("password in %s", p)
			}
		}
		return nil
	})
}

// TestCopyEncryptedRepositories: plain to encrypted (password from a
// file, then from a command), encrypted to encrypted under another key,
// and through a mount of the source, where the destination's password
// goes over the socket. Wrong and missing passwords are clear errors; no
// password reaches output, a command line or the stores.
func TestCopyEncryptedRepositories(t *testing.T) {
	a, b := smallDisks(t)
	src := newRepo(t)
	mustRun(t, src, "ingest", "--vm", "web01", "--point-time", "2026-11-20T01:00:00Z", "disk0="+a)
	const pw1, pw2 = "first-secret-3f9a", "second-secret-77c2"
	enc, pwFile := encryptedRepo(t, pw1)
	enc2, pwFile2 := encryptedRepo(t, pw2)
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("not it\n"), 0o600)
	var outputs []string
	copyRun := func(args ...string) result {
		r := run(t, "", nil, append([]string{"copy"}, args...)...)
		outputs = append(outputs, r.stdout, r.stderr)
		return r
	}

	r := copyRun("--from", src, "--to", enc, "--to-password-file", wrong)
	if r.code != 2 || !strings.Contains(r.stderr, "opens none of the destination repository's keys") || !strings.Contains(r.stderr, wrong) {
		t.Fatalf("wrong password: exit %d %s", r.code, r.stderr)
	}
	r = copyRun("--from", src, "--to", enc)
	if r.code != 2 || !strings.Contains(r.stderr, "--to-password-file") {
		t.Fatalf("no password: exit %d %s", r.code, r.stderr)
	}
	r = copyRun("--from", src, "--to", enc, "--to-password-file", pwFile)
	if r.code != 0 || !strings.Contains(r.stdout, "re-cut") {
		t.Fatalf("plain to encrypted: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustRun(t, src, "ingest", "--vm", "web01", "--point-time", "2026-11-21T01:00:00Z", "disk0="+b)
	r = copyRun("--from", src, "--to", enc, "--to-password-command", "cat "+pwFile)
	if r.code != 0 || !strings.Contains(r.stdout, "copied 1 points, 1 skipped") {
		t.Fatalf("plain to encrypted, password from a command: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = copyRun("--from", enc, "--to", enc2, "--from-password-file", pwFile, "--to-password-command", "cat "+pwFile2)
	if r.code != 0 || !strings.Contains(r.stdout, "copied 2 points") {
		t.Fatalf("encrypted to encrypted: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for point, img := range map[string]string{"2026-11-20T01:00:00Z": a, "2026-11-21T01:00:00Z": b} {
		if !bytes.Equal(encryptedDisk(t, enc2, pw2, point), readFile(t, img)) {
			t.Fatalf("point %s reads back wrong after two copies", point)
		}
	}

	// Through a mount of the source: the copy runs in the mount's process,
	// which gets the destination's password over the socket. The command
	// gives it once (it deletes its file), so the holder cannot have
	// run it again.
	enc3, pwFile3 := encryptedRepo(t, pw1)
	t.Run("mounted source", func(t *testing.T) {
		testenv.NeedFUSE(t)
		_, mountLog := startMount(t, src)
		r := copyRun("--from", src, "--to", enc3, "--to-password-command", "cat "+pwFile3+" && rm "+pwFile3)
		if r.code != 0 || !strings.Contains(r.stdout, "copied 2 points") {
			t.Fatalf("copy from a mounted source to an encrypted destination: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if !bytes.Equal(encryptedDisk(t, enc3, pw1, "2026-11-21T01:00:00Z"), readFile(t, b)) {
			t.Fatal("copy through the mount reads back wrong")
		}
		outputs = append(outputs, mountLog.String())
	})
	t.Run("mounted destination", func(t *testing.T) {
		testenv.NeedFUSE(t)
		dst := newRepo(t)
		_, mountLog := startMount(t, dst)
		once := filepath.Join(t.TempDir(), "pw")
		os.WriteFile(once, []byte(pw1), 0o600)
		r := copyRun("--from", enc, "--to", dst, "--from-password-command", "cat "+once+" && rm "+once)
		if r.code != 0 || !strings.Contains(r.stdout, "copied 2 points") {
			t.Fatalf("copy from an encrypted source to a mounted destination: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if !bytes.Equal(catDisk(t, dst, "web01", "2026-11-21T01:00:00Z", "disk0"), readFile(t, b)) {
			t.Fatal("copy into the mount reads back wrong")
		}
		outputs = append(outputs, mountLog.String())
		noSecret(t, pw1, dst)
	})
	for _, dir := range []string{enc, enc2, enc3} {
		noSecret(t, pw1, dir, outputs...)
		noSecret(t, pw2, dir)
	}
}

// TestCopyRefusesPre1970Point: a repository an older build wrote holds a
// point from 1969, which no repository takes now; the copy copies the
// other point, names the refused one and exits 2.
func TestCopyRefusesPre1970Point(t *testing.T) {
	dir := t.TempDir()
	sh(t, "tar", "-xzf", filepath.Join(repoRoot(t), "catalog", "testdata", "pre1970-repo.tar.gz"), "-C", dir)
	dst := newRepo(t)
	r := run(t, "", nil, "copy", "--from", filepath.Join(dir, "repo"), "--to", dst)
	if r.code != 2 || !strings.Contains(r.stdout, "not copied: legacy/1969-07-20T20:17:40Z: point time") ||
		!strings.Contains(r.stdout, "copied 1 points") || !strings.Contains(r.stderr, "1 points not copied") {
		t.Fatalf("copy of a repository with a 1969 point: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := pointNames(t, dst); len(got) != 1 || got[0] != "legacy/2026-11-20T00:00:00Z" {
		t.Fatalf("destination points %q", got)
	}
}
