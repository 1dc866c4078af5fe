package web

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// guestURL is the reference tree's partition in both VMs' points.
const guestPath = "/web1/" + pt + "/disk0/p1"

// compareTrees checks that got holds ref's directories and regular files
// (same content), symlinks too when links is set, fifos and device nodes
// when specials is, and nothing else.
func compareTrees(t *testing.T, ref, got string, links, specials bool) {
	t.Helper()
	want := map[string]bool{}
	filepath.WalkDir(ref, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(ref, p)
		if rel == "." || rel == "lost+found" {
			return nil
		}
		switch {
		case d.IsDir():
			if fi, err := os.Stat(filepath.Join(got, rel)); err != nil || !fi.IsDir() {
				t.Errorf("directory %s missing: %v", rel, err)
			}
		case d.Type().IsRegular():
			a, _ := os.ReadFile(p)
			b, err := os.ReadFile(filepath.Join(got, rel))
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("file %s differs (%d vs %d bytes): %v", rel, len(a), len(b), err)
			}
		case d.Type()&fs.ModeSymlink != 0 && links:
			a, _ := os.Readlink(p)
			if b, err := os.Readlink(filepath.Join(got, rel)); err != nil || a != b {
				t.Errorf("symlink %s: %q, want %q (%v)", rel, b, a, err)
			}
		case d.Type()&fs.ModeSymlink == 0 && specials:
			if fi, err := os.Lstat(filepath.Join(got, rel)); err != nil || fi.Mode().Type() != d.Type() {
				t.Errorf("%s: not a %v: %v", rel, d.Type(), err)
			}
		default:
			return nil
		}
		want[rel] = true
		return nil
	})
	filepath.WalkDir(got, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(got, p)
		if err == nil && rel != "." && rel != "lost+found" && !strings.HasPrefix(rel, "lost+found/") && !want[rel] {
			t.Errorf("%s is extra", rel)
		}
		return nil
	})
}

func netrc(t *testing.T, base string) string {
	p := filepath.Join(t.TempDir(), "netrc")
	os.WriteFile(p, []byte("machine 127.0.0.1 login admin password "+adminPW+"\n"), 0o600)
	return p
}

// TestClients runs real clients against the server: davfs2 mounts /dav/
// and the tree is copied out, rclone copies it, curl reads ranges and
// resumes a cut download, unzip and tar unpack the directory downloads.
func TestClients(t *testing.T) {
	a := newRefArchive(t)
	s, logs := newTestServer(t, a.repo)
	base := serve(t, s)
	t.Run("davfs2", func(t *testing.T) { testDavfs2(t, a, base) })
	t.Run("rclone", func(t *testing.T) { testRclone(t, a, base) })
	t.Run("curl", func(t *testing.T) { testCurl(t, a, base) })
	t.Run("archives", func(t *testing.T) { testArchives(t, a, base) })
	if strings.Contains(logs.String(), adminPW) {
		t.Errorf("the log holds the password")
	}
}

func testDavfs2(t *testing.T, a *refArchive, base string) {
	testenv.NeedTools(t, "mount.davfs", "umount.davfs")
	dir := t.TempDir()
	mnt, cache := filepath.Join(dir, "mnt"), filepath.Join(dir, "cache")
	os.Chmod(filepath.Dir(dir), 0o755) // davfs2 drops to its own user
	os.Chmod(dir, 0o755)
	os.Mkdir(mnt, 0o755)
	os.Mkdir(cache, 0o777)
	os.Chmod(cache, 0o777)
	secrets, conf := filepath.Join(dir, "secrets"), filepath.Join(dir, "davfs2.conf")
	os.WriteFile(secrets, []byte(base+"/dav/ admin "+adminPW+"\n"), 0o600)
	// buf_size: davfs2 1.6.1 answers a FUSE_READDIR larger than its
	// buffer (default 16 KiB) with EINVAL, and Linux 6.18 sizes READDIR by
	// the reader's getdents64 buffer (coreutils: 32 KiB) up to 128 KiB.
	os.WriteFile(conf, []byte("secrets "+secrets+"\ncache_dir "+cache+"\nuse_locks 0\nask_auth 0\nbuf_size 132\n"), 0o600)
	cmd := exec.Command("mount.davfs", base+"/dav/", mnt, "-o", "ro,conf="+conf)
	cmd.Stdin = strings.NewReader("")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mount.davfs: %v\n%s", err, out)
	}
	// umount.davfs waits for mount.davfs to write back its cache and
	// exit: after a bare unmount(2) it may still write under the test's
	// temporary directory while that is removed.
	t.Cleanup(func() {
		if out, err := exec.Command("umount.davfs", mnt).CombinedOutput(); err != nil {
			t.Logf("umount.davfs: %v %s", err, out)
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	ents, err := os.ReadDir(mnt)
	if err != nil || len(ents) < 2 {
		t.Fatalf("ls of the davfs2 mount: %v %v", ents, err)
	}
	got := filepath.Join(dir, "copy")
	if out, err := exec.Command("cp", "-r", filepath.Join(mnt, guestPath), got).CombinedOutput(); err != nil {
		t.Fatalf("cp -r out of the davfs2 mount: %v\n%s", err, out)
	}
	compareTrees(t, a.tree, got, false, false)
	if err := os.WriteFile(filepath.Join(mnt, guestPath, "new"), []byte("x"), 0o644); err == nil {
		t.Errorf("a write through davfs2 succeeded")
	}
}

func testRclone(t *testing.T, a *refArchive, base string) {
	testenv.NeedTools(t, "rclone")
	cmd := exec.Command("rclone", "obscure", "-")
	cmd.Stdin = strings.NewReader(adminPW)
	obscured, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got := filepath.Join(t.TempDir(), "copy")
	cmd = exec.Command("rclone", "copy", "--create-empty-src-dirs", "--config", "/dev/null", ":webdav:"+guestPath, got)
	cmd.Env = append(os.Environ(), "RCLONE_WEBDAV_URL="+base+"/dav/", "RCLONE_WEBDAV_USER=admin", "RCLONE_WEBDAV_PASS="+strings.TrimSpace(string(obscured)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rclone copy: %v\n%s", err, out)
	}
	compareTrees(t, a.tree, got, false, false)
}

func testCurl(t *testing.T, a *refArchive, base string) {
	testenv.NeedTools(t, "curl")
	nrc := netrc(t, base)
	url := base + "/download" + guestPath + "/home/ann/Documents/big.bin"
	ref, _ := os.ReadFile(filepath.Join(a.tree, "home/ann/Documents/big.bin"))
	out, err := exec.Command("curl", "-sf", "--netrc-file", nrc, "-r", "1000-1999", url).Output()
	if err != nil || !bytes.Equal(out, ref[1000:2000]) {
		t.Fatalf("curl -r 1000-1999: %d bytes, %v", len(out), err)
	}
	// Cut a download of the disk image short, then resume it with -C -.
	url = base + "/download/web1/" + pt + "/disk0.img"
	ref, _ = os.ReadFile(a.disk)
	dst := filepath.Join(t.TempDir(), "disk0.img")
	exec.Command("curl", "-s", "--netrc-file", nrc, "--limit-rate", "2M", "--max-time", "2", "-o", dst, url).Run()
	fi, err := os.Stat(dst)
	if err != nil || fi.Size() == 0 || fi.Size() >= int64(len(ref)) {
		t.Fatalf("the cut download has %v bytes (%v), want some but not all of %d", fi, err, len(ref))
	}
	hdrs := filepath.Join(t.TempDir(), "headers")
	if out, err := exec.Command("curl", "-sSf", "--netrc-file", nrc, "-C", "-", "-D", hdrs, "-o", dst, url).CombinedOutput(); err != nil {
		t.Fatalf("curl -C -: %v\n%s", err, out)
	}
	h, _ := os.ReadFile(hdrs)
	if !strings.Contains(string(h), "206 Partial Content") {
		t.Errorf("resume was not a range request:\n%s", h)
	}
	got, _ := os.ReadFile(dst)
	if sha256.Sum256(got) != sha256.Sum256(ref) {
		t.Errorf("resumed download differs: %d bytes, want %d", len(got), len(ref))
	}
}

func testArchives(t *testing.T, a *refArchive, base string) {
	testenv.NeedTools(t, "tar", "unzip")
	for _, format := range []string{"zip", "tar", "tar.gz"} {
		t.Run(format, func(t *testing.T) {
			req, _ := http.NewRequest("GET", base+"/download"+guestPath+"/?format="+format, nil)
			req.SetBasicAuth("admin", adminPW)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%d %v %.200s", resp.StatusCode, err, body)
			}
			if format == "tar" {
				if cl, _ := strconv.Atoi(resp.Header.Get("Content-Length")); cl != len(body) {
					t.Errorf("Content-Length %q, body %d bytes", resp.Header.Get("Content-Length"), len(body))
				}
			}
			dir := t.TempDir()
			file := filepath.Join(dir, "dl."+format)
			os.WriteFile(file, body, 0o600)
			got := filepath.Join(dir, "x")
			os.Mkdir(got, 0o755)
			switch format {
			case "zip":
				if _, err := zip.NewReader(bytes.NewReader(body), int64(len(body))); err != nil {
					t.Fatal(err)
				}
				sh(t, "unzip", "-q", file, "-d", got)
			case "tar":
				sh(t, "tar", "-xf", file, "-C", got)
			default:
				sh(t, "tar", "-xzf", file, "-C", got)
			}
			if format == "zip" {
				// zip has no fifos or device nodes: the errors file says so.
				notes, err := os.ReadFile(filepath.Join(got, errorsName))
				if err != nil || strings.Count(string(notes), "zip cannot hold it") != 3 {
					t.Errorf("%s: %q %v", errorsName, notes, err)
				}
				os.Remove(filepath.Join(got, errorsName))
			} else if out := sh(t, "find", got, "-type", "p", "-o", "-type", "c", "-o", "-type", "b"); strings.Count(out, "\n") != 3 {
				t.Errorf("tar lost the fifo or device nodes: %q", out)
			}
			compareTrees(t, a.tree, got, true, format != "zip")
		})
	}
}
