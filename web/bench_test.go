package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/fs"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// benchArchive is one point of an ext4 disk holding big.bin (256 MiB of
// random data) and many/ (10,000 files of 4 KiB), mounted with FUSE and
// served over HTTP on loopback. Compare the pairs:
// BenchmarkFile/{http,mount} and BenchmarkDirectory/{tar-http,zip-http,tar-mount}.
type benchArchive struct {
	base string
	repo *catalog.Repo
}

func setupBench(b *testing.B) *benchArchive {
	testenv.NeedTools(b, "mke2fs", "sgdisk", "tar")
	testenv.NeedFUSE(b)
	dir := b.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "many"), 0o755)
	sh(b, "sh", "-c", "head -c 268435456 /dev/urandom > "+filepath.Join(tree, "big.bin"))
	buf := make([]byte, 4096)
	for i := range 10000 {
		copy(buf, fmt.Sprintf("file %d\n", i))
		os.WriteFile(filepath.Join(tree, "many", fmt.Sprintf("f%05d", i)), buf, 0o644)
	}
	disk := filepath.Join(dir, "disk.raw")
	sh(b, "bash", script("disk-from-tree.sh"), tree, disk, "400")
	os.RemoveAll(tree)
	repo := catalog.TestRepo(b)
	d, err := image.Open(disk)
	if err != nil {
		b.Fatal(err)
	}
	_, err = ingest.Ingest(context.Background(), repo, ingest.Options{VM: "web1", Time: t0}, []ingest.DiskSpec{{Name: "disk0", Disk: d, Source: disk, Format: d.Format()}})
	d.Close()
	os.Remove(disk)
	if err != nil {
		b.Fatal(err)
	}
	s, _ := newTestServer(b, repo)
	return &benchArchive{base: serve(b, s), repo: repo}
}

// mounted runs fn with a fresh mount of the archive: a new mount starts
// with a cold kernel page cache (the mount keeps files cached), the
// archive's own caches stay warm as the server's do.
func (a *benchArchive) mounted(b *testing.B, fn func(mnt string)) {
	b.StopTimer()
	mnt := b.TempDir()
	srv, err := fs.Mount(a.repo, mnt, fs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	fn(mnt)
	b.StopTimer()
	srv.Unmount()
	b.StartTimer()
}

func get(b *testing.B, url string) int64 {
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth("admin", adminPW)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("%s: %d %v", url, resp.StatusCode, err)
	}
	return n
}

func run(b *testing.B, name string, args ...string) {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", name, err, out)
	}
}

// Each benchmark builds its own archive: the figures are of a warm
// archive (the first iteration warms the chunk caches of both paths).
func BenchmarkFile(b *testing.B) {
	a := setupBench(b)
	const size = 256 << 20
	p := "/web1/" + pt + "/disk0/p1/big.bin"
	b.Run("http", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			get(b, a.base+"/download"+p)
		}
	})
	b.Run("mount", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			a.mounted(b, func(mnt string) { run(b, "sh", "-c", "cat "+mnt+p+" > /dev/null") })
		}
	})
}

func BenchmarkDirectory(b *testing.B) {
	a := setupBench(b)
	p := "/web1/" + pt + "/disk0/p1/many"
	const size = 10000 * 4096
	for _, f := range []string{"tar", "zip"} {
		b.Run(f+"-http", func(b *testing.B) {
			b.SetBytes(size)
			for range b.N {
				get(b, a.base+"/download"+p+"/?format="+f)
			}
		})
	}
	b.Run("tar-mount", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			// Through a pipe: GNU tar writing to /dev/null skips the reads.
			a.mounted(b, func(mnt string) { run(b, "sh", "-c", "tar -C "+mnt+p+" -cf - . | cat > /dev/null") })
		}
	})
}

// BenchmarkDirectoryPage renders pages of a guest directory of 100,000
// entries (an unpartitioned ext4 filled through a loop mount): the first page sorted by
// name (only its 100 entries are read), a late page, and the first page
// by modification time (every entry is read to sort).
func BenchmarkDirectoryPage(b *testing.B) {
	testenv.NeedTools(b, "mke2fs", "mount", "umount")
	testenv.NeedRoot(b) // mke2fs -d takes quadratic time over one directory: the kernel fills it
	dir := b.TempDir()
	disk, mnt := filepath.Join(dir, "disk.raw"), filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	sh(b, "truncate", "-s", "160M", disk)
	sh(b, "mke2fs", "-q", "-F", "-t", "ext4", "-N", "120000", disk)
	sh(b, "mount", "-o", "loop", disk, mnt)
	os.Mkdir(filepath.Join(mnt, "big"), 0o755)
	for i := range 100000 {
		if err := os.WriteFile(filepath.Join(mnt, "big", fmt.Sprintf("file-%06d.txt", i)), nil, 0o644); err != nil {
			exec.Command("umount", mnt).Run()
			b.Fatal(err)
		}
	}
	sh(b, "umount", mnt)
	repo := catalog.TestRepo(b)
	d, err := image.Open(disk)
	if err != nil {
		b.Fatal(err)
	}
	_, err = ingest.Ingest(context.Background(), repo, ingest.Options{VM: "web1", Time: t0}, []ingest.DiskSpec{{Name: "disk0", Disk: d, Source: disk, Format: d.Format()}})
	d.Close()
	if err != nil {
		b.Fatal(err)
	}
	s, _ := newTestServer(b, repo)
	server := serve(b, s)
	base := server + "/ui/tree/web1/" + pt + "/disk0/fs/big/"
	pages := []struct{ name, query, want string }{
		{"first-page", "", "file-000099.txt"},
		{"page-900", "?page=900", "file-089999.txt"},
		{"by-mtime", "?sort=mtime", "file-0"},
	}
	for _, c := range pages {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				if body := getBody(b, base+c.query); !strings.Contains(body, c.want) || !strings.Contains(body, "100000 entries") {
					b.Fatalf("%s: page without %q:\n%.500s", c.name, c.want, body)
				}
			}
		})
	}
	b.Run("chromium", func(b *testing.B) {
		ctx := chromiumLoggedIn(b, server)
		for _, c := range pages {
			b.Run(c.name, func(b *testing.B) { renderPage(b, ctx, base+c.query, c.want) })
		}
	})
}

func getBody(b *testing.B, url string) string {
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth("admin", adminPW)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("%s: %d %v", url, resp.StatusCode, err)
	}
	return string(body)
}
