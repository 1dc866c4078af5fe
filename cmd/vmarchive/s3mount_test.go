package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog/backend/s3/s3test"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestS3MountChunkCache: the mount of an encrypted repository in a
// bucket, reached through the fault proxy, with a 16 MiB chunk cache.
// Reading the 24 MiB disk leaves at most 16 MiB in the cache, none of it
// plaintext; a new mount reads the cached end of the disk with almost no
// GETs of data; with the bucket stalled, a mount with a 2 s read timeout
// fails a read of the uncached start with EIO while ls answers, and
// reads it once the bucket is back. Only that mount has the short
// timeout: on a loaded machine an answered GET can take longer than 2 s.
func TestS3MountChunkCache(t *testing.T) {
	testenv.NeedFUSE(t)
	srv := s3test.Start(t)
	px := s3test.NewProxy(t, srv)
	px.SetStall(time.Minute) // until the client gives up
	repo := "s3:" + px.URL + "/" + srv.Bucket(t) + "/m"
	cache := t.TempDir()
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("chunk-cache-pw\n"), 0o600)
	env := []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true", "XDG_CACHE_HOME=" + cache, "VMARCHIVE_PASSWORD_FILE=" + pwFile}
	const size, limit = 24 << 20, 16 << 20
	disk := randomDisk(t, size)
	want := readFile(t, disk)
	for _, args := range [][]string{{"init", "--encrypt", "--chunk-size", "256KiB"}, {"ingest", "--vm", "web01", "--no-index", "d0=" + disk}} {
		if r := run(t, repo, env, args...); r.code != 0 {
			t.Fatalf("vmarchive %s: exit %d\n%s", args[0], r.code, r.stderr)
		}
	}
	mountArgs := []string{"--chunk-cache-size", "16MiB", "--read-timeout", "1m", "--refresh", "0"}

	// Cold: the whole disk, more than the cache holds.
	mnt, stop := s3Mount(t, repo, env, mountArgs...)
	img := filepath.Join(mnt, "web01", "latest", "d0.img")
	px.ResetLog()
	if !bytes.Equal(readFile(t, img), want) {
		t.Fatal("the mounted disk differs")
	}
	coldGets := px.Gets("data")
	stop()
	chunks := chunkCacheDir(t, cache)
	used := duBytes(t, chunks)
	if used > limit || used < limit/2 {
		t.Fatalf("chunk cache holds %d bytes on disk after reading %d, want at most the limit %d (and most of it used)", used, size, limit)
	}
	noPlaintext(t, chunks, want)

	// Warm: the end of the disk, read last, comes from the cache.
	mnt, stop = s3Mount(t, repo, env, mountArgs...)
	img = filepath.Join(mnt, "web01", "latest", "d0.img")
	px.ResetLog()
	tail := readRange(t, img, size-8<<20, 8<<20)
	if !bytes.Equal(tail, want[size-8<<20:]) {
		t.Fatal("the cached end of the disk differs")
	}
	if warm := px.Gets("data"); warm > 4 || coldGets < 30 {
		t.Fatalf("reading 8 MiB from the cache took %d GETs of data (the cold 24 MiB took %d), want at most a few map blocks", warm, coldGets)
	}
	stop()

	// Stalled bucket: EIO within the timeout, ls answers meanwhile. The
	// disk is opened (its map read) before the stall.
	mountArgs[3] = "2s"
	mnt, stop = s3Mount(t, repo, env, mountArgs...)
	defer stop()
	img = filepath.Join(mnt, "web01", "latest", "d0.img")
	if _, err := readRangeErr(img, size-4096, 4096); err != nil {
		t.Fatalf("reading the cached end on the 2 s mount: %v", err)
	}
	px.Set("", s3test.Stall)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := readRangeErr(img, 0, 4<<20)
		done <- err
	}()
	time.Sleep(500 * time.Millisecond)
	if ents, err := os.ReadDir(filepath.Join(mnt, "web01")); err != nil || len(ents) != 2 {
		t.Fatalf("ls of the VM while a read is stalled: %v, %d entries", err, len(ents))
	}
	select {
	case err := <-done:
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("read with the bucket stalled: %v, want EIO", err)
		}
		if el := time.Since(start); el > 20*time.Second {
			t.Fatalf("EIO came after %v, read timeout 2s", el)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("read with the bucket stalled hangs")
	}
	if px.Faults() == 0 {
		t.Fatal("the proxy stalled no request: the read did not reach the bucket")
	}
	if _, err := os.ReadDir(mnt); err != nil {
		t.Fatalf("ls of the mount after EIO: %v", err)
	}
	px.Set("", s3test.Pass)
	// Each read asks the bucket again; one slow answer on a loaded
	// machine may still time out, so a few tries are allowed.
	var got []byte
	var err error
	for try := 0; try < 5; try++ {
		if got, err = readRangeErr(img, 0, 4<<20); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("5 reads after the bucket came back: %v", err)
	}
	if !bytes.Equal(got, want[:4<<20]) {
		t.Fatal("after the bucket came back, the start of the disk differs")
	}
}

// s3Mount mounts repo and returns the mountpoint and a function that
// unmounts it and waits for the process.
func s3Mount(t *testing.T, repo string, env []string, args ...string) (string, func()) {
	t.Helper()
	mnt := t.TempDir()
	cmd := exec.Command(vmarchiveBin(t), append(append([]string{"mount"}, args...), mnt)...)
	cmd.Env = append(append(os.Environ(), "VMARCHIVE_REPO="+repo, "HOME="+t.TempDir()), env...)
	log := &lockedBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			if t.Failed() {
				t.Logf("vmarchive mount %s:\n%s", mnt, log.String())
			}
		}
	}
	t.Cleanup(stop)
	for i := 0; !strings.Contains(log.String(), " mounted at"); i++ {
		if i > 600 {
			t.Fatalf("mount did not come up:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return mnt, stop
}

// chunkCacheDir is the chunk cache of the one repository cached under
// XDG_CACHE_HOME cache.
func chunkCacheDir(t *testing.T, cache string) string {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(cache, "vmarchive"))
	if len(ents) != 1 {
		t.Fatalf("cache holds %d entries, want one repository's", len(ents))
	}
	return filepath.Join(cache, "vmarchive", ents[0].Name(), "chunks")
}

// duBytes is what du counts under dir: the blocks of its files.
func duBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			return err
		}
		total += st.Blocks * 512
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

// noPlaintext fails if a file under dir holds one of 64 samples of plain.
func noPlaintext(t *testing.T, dir string, plain []byte) {
	t.Helper()
	files := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		files++
		b, _ := os.ReadFile(p)
		for i := range 64 {
			off := i * (len(plain) / 64)
			if bytes.Contains(b, plain[off:off+32]) {
				t.Fatalf("%s holds plaintext of the disk (offset %d)", p, off)
			}
		}
		return nil
	})
	if files == 0 {
		t.Fatalf("no files in %s", dir)
	}
}

func readRange(t *testing.T, p string, off, n int64) []byte {
	t.Helper()
	b, err := readRangeErr(p, off, n)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readRangeErr(p string, off, n int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	_, err = io.ReadFull(io.NewSectionReader(f, off, n), b)
	return b, err
}
