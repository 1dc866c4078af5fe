package catalog

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// TestRepo creates and opens a repository in a temporary directory with
// the smallest chunk size, closed when the test ends.
func TestRepo(t testing.TB) *Repo {
	t.Helper()
	return TestRepoWith(t, InitOptions{Chunking: format.DefaultChunking(MinChunkSize)})
}

// TestEncryptedRepo is TestRepo2 of a repository encrypted under password.
func TestEncryptedRepo(t testing.TB, password string) *Repo {
	t.Helper()
	return TestRepoWith(t, InitOptions{Chunking: format.DefaultChunking(MinChunkSize), Encrypt: true, Password: []byte(password)})
}

// TestRepoWith creates and opens a repository made with opts.
func TestRepoWith(t testing.TB, opts InitOptions) *Repo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	ctx := context.Background()
	if _, err := Init(ctx, dir, opts); err != nil {
		t.Fatal(err)
	}
	pw := bytes.Clone(opts.Password)
	r, err := Open(ctx, dir, Options{Command: "test", Password: func() ([]byte, error) { return pw, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestRepo2 is TestRepo of format 2 with the smallest average chunk.
// TestRepo1 is a format-1 repository (fixed 256 KiB chunks), as older
// builds made: for tests of reading and copying them.
func TestRepo1(t testing.TB) *Repo {
	t.Helper()
	return TestRepoWith(t, InitOptions{ChunkSize: MinChunkSize})
}

func TestRepo2(t testing.TB) *Repo {
	t.Helper()
	return TestRepoWith(t, InitOptions{Chunking: format.DefaultChunking(MinChunkSize)})
}

// TestWritePoint commits a point whose disks hold the given bytes, written
// chunk by chunk straight through a Writer.
func TestWritePoint(t testing.TB, r *Repo, vm string, when time.Time, disks map[string][]byte) *Manifest {
	t.Helper()
	return TestWritePointConfig(t, r, vm, when, disks, nil)
}

// TestWritePointConfig is TestWritePoint with captured configuration
// files (name -> content), each stored as a blob.
func TestWritePointConfig(t testing.TB, r *Repo, vm string, when time.Time, disks, config map[string][]byte) *Manifest {
	t.Helper()
	ctx := context.Background()
	w := r.NewWriter()
	enc := NewEncoder()
	m := &Manifest{VM: vm, Time: when.UTC().Truncate(time.Second), Created: time.Now().UTC()}
	for name, b := range config {
		id, err := w.AddBlob(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if m.Config == nil {
			m.Config = map[string]ConfigFile{}
		}
		m.Config[name] = ConfigFile{ID: id, Size: int64(len(b))}
	}
	names := make([]string, 0, len(disks))
	for n := range disks {
		names = append(names, n)
	}
	sort.Strings(names)
	cs := r.cfg.ChunkSize
	if c := r.cfg.Chunking; c != nil {
		cs = c.Avg // fixed-size pieces make a valid format-2 map too
	}
	for _, name := range names {
		data := disks[name]
		mb := w.NewMapBuilder(int64(len(data)))
		for i := 0; i*cs < len(data); i++ {
			res, err := w.Add(ctx, enc, data[i*cs:min(len(data), (i+1)*cs)])
			if err != nil {
				t.Fatal(err)
			}
			if r.cfg.Chunking != nil {
				err = mb.Append(ctx, Extent{Off: int64(i * cs), Len: int64(min(len(data), (i+1)*cs) - i*cs), ID: res.ID})
			} else {
				err = mb.Set(ctx, int64(i), res.ID)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		root, err := mb.Finish(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m.Disks = append(m.Disks, DiskRecord{Name: name, Size: int64(len(data)), Map: root})
	}
	if err := w.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFormat1Repo extracts testdata/format1-repo.tar.gz (a format-1
// repository an older build wrote; testdata/README.md) into a temporary
// directory and returns the repository's path and the sha256 hex of its
// guest files and disk images by name ("p1/root/big.bin", "p2/disk0.img").
func TestFormat1Repo(t testing.TB) (string, map[string]string) {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	td := filepath.Join(filepath.Dir(self), "testdata")
	dir := t.TempDir()
	untar(t, filepath.Join(td, "format1-repo.tar.gz"), dir)
	f, err := os.Open(filepath.Join(td, "format1-repo.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sum, name, ok := strings.Cut(sc.Text(), "  "); ok {
			sums[name] = sum
		}
	}
	if err := sc.Err(); err != nil || len(sums) == 0 {
		t.Fatalf("format1-repo.sha256: %d sums, %v", len(sums), err)
	}
	return filepath.Join(dir, "repo"), sums
}

// untar extracts a gzipped tar of directories and regular files into dir.
func untar(t testing.TB, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name)
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Fatalf("%s: entry %q outside the archive", archive, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o700)
		case tar.TypeReg:
			var b []byte
			if b, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(p, b, 0o600)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
