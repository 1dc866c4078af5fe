package fs

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/diff"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// compareChanges turns version 1 of the reference tree into point B: run
// in a copy of the tree and, through fuse2fs, in a copy of its image, so
// the image changes the way a guest changes it (a rename keeps its inode,
// unchanged files keep theirs) and the tree is the oracle's copy.
const compareChanges = `set -euo pipefail
echo "changed in B" >>etc/hostname
chmod 0600 etc/shadow
rm home/bob/notes
mv home/ann/Documents/big.bin home/ann/big-moved.bin
mkdir srv/newdir
echo "new file" >srv/added.txt
echo "inner" >srv/newdir/inner.txt
setfattr -n user.comment -v "changed in B" 'Unicode ünïcødé 文件/grüße.txt'
touch -h -d '2026-11-21 01:00:00.25 UTC' etc/hostname srv/added.txt srv/newdir/inner.txt srv/newdir srv home/bob home/ann home/ann/Documents
`

// comparePair builds the trees and disks of points A and B.
func comparePairImages(t *testing.T) (treeA, diskA, treeB, diskB string) {
	t.Helper()
	testenv.NeedFUSE(t)
	testenv.NeedTools(t, "fuse2fs", "rsync", "setfattr")
	treeA, diskA = refDisk(t, "1")
	dir := t.TempDir()
	treeB, diskB = filepath.Join(dir, "tree"), filepath.Join(dir, "disk.raw")
	script := filepath.Join(dir, "change.sh")
	if err := os.WriteFile(script, []byte(compareChanges), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, "cp", "-a", treeA, treeB)
	sh(t, "cp", "--sparse=always", diskA, diskB)
	runIn(t, treeB, "bash", script)

	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	off := partitionStart(t, diskB)
	fuse2fs := exec.Command("fuse2fs", "-f", "-o", "offset="+strconv.FormatInt(off, 10), diskB, mnt)
	if err := fuse2fs.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fuse2fs.Wait() }()
	unmount := func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount fuse2fs: %v", err)
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("fuse2fs: %v", err)
			}
		case <-time.After(30 * time.Second):
			fuse2fs.Process.Kill()
			t.Fatal("fuse2fs did not exit after unmount")
		}
	}
	waitFor(t, func() bool { return isMounted(t, mnt) })
	defer func() {
		if isMounted(t, mnt) {
			unmount()
		}
	}()
	runIn(t, mnt, "bash", script)
	unmount()
	return treeA, diskA, treeB, diskB
}

func runIn(t testing.TB, dir, name string, args ...string) {
	t.Helper()
	c := exec.Command(name, args...)
	c.Dir = dir
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("in %s: %s %s: %v\n%s", dir, name, strings.Join(args, " "), err, out)
	}
}

// partitionStart is the byte offset of partition 1, from sgdisk.
func partitionStart(t testing.TB, disk string) int64 {
	t.Helper()
	for _, l := range strings.Split(sh(t, "sgdisk", "-i", "1", disk), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "First" && f[1] == "sector:" {
			n, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				t.Fatalf("sgdisk: %q", l)
			}
			return n * 512
		}
	}
	t.Fatalf("no partition 1 in %s", disk)
	return 0
}

// rsyncChanged is the oracle: the paths of treeB that differ from treeA
// in content or metadata (rsync -c -a -X, transfer direction B to A), and
// those only in A.
func rsyncChanged(t testing.TB, treeA, treeB string) (changed, deleted []string) {
	t.Helper()
	out := sh(t, "rsync", "-n", "-c", "-a", "-X", "-i", "--delete", treeB+"/", treeA+"/")
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		if p, ok := strings.CutPrefix(l, "*deleting "); ok {
			deleted = append(deleted, strings.TrimSuffix(strings.TrimSpace(p), "/"))
			continue
		}
		// "YXcstpoguax path": eleven flag characters, a space, the path.
		if len(l) < 13 {
			t.Fatalf("rsync line %q", l)
		}
		p := strings.TrimSuffix(l[12:], "/")
		if p != "." && p != "" {
			changed = append(changed, p)
		}
	}
	return changed, deleted
}

// withParents adds every parent directory of the paths.
func withParents(paths []string) []string {
	set := map[string]bool{}
	for _, p := range paths {
		for ; p != "." && p != "/" && p != ""; p = filepath.Dir(p) {
			set[p] = true
		}
	}
	var out []string
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// walkPaths lists every path below dir, relative to it.
func walkPaths(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			out = append(out, strings.TrimPrefix(p, dir+"/"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func names(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func lstatIno(t testing.TB, p string) (uint64, bool) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino, st.Mode&syscall.S_IFMT == syscall.S_IFDIR
}

// TestCompareView checks MOUNT/<vm>/.compare against rsync between the
// reference trees of two points.
func TestCompareView(t *testing.T) {
	treeA, diskA, treeB, diskB := comparePairImages(t)
	r := catalog.TestRepo(t)
	tA, tB, tC := t0, t0.Add(24*time.Hour), t0.Add(48*time.Hour)
	ingestImage(t, r, "web01", tA, map[string]string{"disk0": diskA})
	ingestImage(t, r, "web01", tB, map[string]string{"disk0": diskB})
	ingestImage(t, r, "web01", tC, map[string]string{"disk0": diskB}) // C = B
	A, B, C := catalog.FormatPointTime(tA), catalog.FormatPointTime(tB), catalog.FormatPointTime(tC)
	mnt, _ := mountRepo(t, r, Options{})
	vm := filepath.Join(mnt, "web01")
	cmp := filepath.Join(vm, ".compare")

	// Hidden from the VM's listing, which keeps its contract.
	if got, want := names(t, vm), []string{A, B, C, "latest"}; !slices.Equal(got, want) {
		t.Fatalf("ls %s: %q, want %q", vm, got, want)
	}
	if got, want := names(t, cmp), []string{A + ".." + B, B + ".." + C}; !slices.Equal(got, want) {
		t.Fatalf("ls .compare: %q, want %q", got, want)
	}
	if fi, err := os.Lstat(filepath.Join(cmp, A+".."+B)); err != nil || !fi.IsDir() {
		t.Fatalf("stat pair: %v", err)
	}

	// Exactly B's changed paths and their parents.
	changed, deleted := rsyncChanged(t, treeA, treeB)
	if len(changed) < 8 || len(deleted) != 2 {
		t.Fatalf("oracle: changed %q, deleted %q", changed, deleted)
	}
	view := filepath.Join(cmp, A+".."+B, "disk0", "p1")
	if got, want := walkPaths(t, view), withParents(changed); !slices.Equal(got, want) {
		t.Fatalf("%s holds\n%q\nrsync says B changed\n%q", view, got, want)
	}
	if got := names(t, filepath.Join(cmp, A+".."+B)); !slices.Equal(got, []string{"changes.json", "changes.txt", "disk0"}) {
		t.Fatalf("ls pair: %q", got)
	}
	// Everything shown is B's version: rsync finds nothing to send from
	// the view to B's tree (content by checksum, modes, owners, times,
	// xattrs; without --delete, what the view leaves out does not count).
	if out := sh(t, "rsync", "-n", "-c", "-a", "-X", "-i", view+"/", treeB+"/"); strings.TrimSpace(out) != "" {
		t.Fatalf("the view differs from B's tree:\n%s", out)
	}
	// B's own files: the inode numbers of B's tree; directories, whose
	// listing is filtered, have their own.
	real := filepath.Join(vm, B, "disk0", "p1")
	viewInos := map[string]uint64{}
	for _, p := range walkPaths(t, view) {
		ino, dir := lstatIno(t, filepath.Join(view, p))
		rino, _ := lstatIno(t, filepath.Join(real, p))
		if dir == (ino == rino) {
			t.Errorf("%s: st_ino %d in the view, %d in the point (directory: %v)", p, ino, rino, dir)
		}
		viewInos[p] = ino
	}

	// changes.txt and changes.json name what changed, removals included.
	text := string(readFile(t, filepath.Join(cmp, A+".."+B, "changes.txt")))
	for _, p := range deleted {
		if !strings.Contains(text, "disk0/p1/"+p) {
			t.Errorf("changes.txt does not name removed %s:\n%s", p, text)
		}
	}
	var rep diff.Report
	if err := json.Unmarshal(readFile(t, filepath.Join(cmp, A+".."+B, "changes.json")), &rep); err != nil {
		t.Fatal(err)
	}
	status := map[string]diff.Status{}
	for _, d := range rep.Disks {
		for _, v := range d.Volumes {
			for _, c := range v.Changes {
				status[d.Name+"/"+v.Name+c.Path] = c.Status
				if c.From != "" {
					status[d.Name+"/"+v.Name+c.From] = diff.Deleted // moved away
				}
			}
		}
	}
	for _, p := range changed {
		if s := status["disk0/p1/"+p]; s == "" || s == diff.Deleted {
			t.Errorf("changes.json: %s is %q", p, s)
		}
	}
	for _, p := range deleted {
		if s := status["disk0/p1/"+p]; s != diff.Deleted {
			t.Errorf("changes.json: removed %s is %q", p, s)
		}
	}
	if len(status) != len(changed)+len(deleted) {
		t.Errorf("changes.json has %d paths, rsync %d:\n%s", len(status), len(changed)+len(deleted), text)
	}

	// An equal pair shows its (empty) report only; latest resolves.
	if got := names(t, filepath.Join(cmp, B+".."+C)); !slices.Equal(got, []string{"changes.json", "changes.txt"}) {
		t.Fatalf("ls of an equal pair: %q", got)
	}
	var eq diff.Report
	if err := json.Unmarshal(readFile(t, filepath.Join(cmp, B+".."+C, "changes.json")), &eq); err != nil || !eq.Equal() {
		t.Fatalf("B..C report: %v %+v", err, eq)
	}
	if got, want := walkPaths(t, filepath.Join(cmp, A+"..latest", "disk0", "p1")), withParents(changed); !slices.Equal(got, want) {
		t.Fatalf("A..latest holds %q", got)
	}

	// Unknown pairs and paths outside the changes do not exist.
	for _, p := range []string{
		A + "..2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z.." + B, A, "x..y", A + "..2026-11-21T01:00:00+00:00",
		A + ".." + B + "/disk1", A + ".." + B + "/disk0/p1/etc/passwd", A + ".." + B + "/disk0/p1/home/bob/notes",
		A + ".." + B + "/disk0/p1/etc/fstab",
	} {
		if _, err := os.Lstat(filepath.Join(cmp, p)); !errors.Is(err, syscall.ENOENT) {
			t.Errorf("stat .compare/%s: %v, want ENOENT", p, err)
		}
	}

	// Read-only.
	file := filepath.Join(view, "etc/hostname")
	checks := map[string]error{
		"create in .compare": func() error { f, err := os.Create(filepath.Join(cmp, "x")); f.Close(); return err }(),
		"mkdir in .compare":  os.Mkdir(filepath.Join(cmp, "x"), 0o755),
		"create in view":     func() error { f, err := os.Create(filepath.Join(view, "new")); f.Close(); return err }(),
		"open for write":     func() error { f, err := os.OpenFile(file, os.O_WRONLY, 0); f.Close(); return err }(),
		"write changes.txt": func() error {
			f, err := os.OpenFile(filepath.Join(cmp, A+".."+B, "changes.txt"), os.O_RDWR, 0)
			f.Close()
			return err
		}(),
		"remove":     os.Remove(file),
		"rename":     os.Rename(file, file+".old"),
		"chmod":      os.Chmod(file, 0o777),
		"setxattr":   syscall.Setxattr(file, "user.x", []byte("y"), 0),
		"rmdir pair": os.Remove(filepath.Join(cmp, A+".."+B)),
	}
	for what, err := range checks {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", what, err)
		}
	}

	// Inode numbers are stable across mounts.
	mnt2, _ := mountRepo(t, r, Options{})
	view2 := filepath.Join(mnt2, "web01", ".compare", A+".."+B, "disk0", "p1")
	for p, ino := range viewInos {
		if ino2, _ := lstatIno(t, filepath.Join(view2, p)); ino2 != ino {
			t.Errorf("%s: st_ino %d, then %d in another mount", p, ino, ino2)
		}
	}
}

// TestCompareFailures: a pair whose comparison stalls or fails stats at
// once (the stat computes nothing); looking inside gives EIO, after the
// mount's timeout for a stalled backend, and a failure is logged once
// however often it is asked for.
func TestCompareFailures(t *testing.T) {
	_, diskA, _, diskB := comparePairImages(t)
	r := catalog.TestRepo(t)
	ingestImage(t, r, "web01", t0, map[string]string{"disk0": diskA})
	mb := ingestImage(t, r, "web01", t0.Add(time.Hour), map[string]string{"disk0": diskB})
	pairName := catalog.FormatPointTime(t0) + ".." + mb.Name()
	// B's disk map root: without it the comparison cannot start. (A
	// damaged guest filesystem is not an error of the comparison: the
	// report says so.)
	root := mb.Disks[0].Map
	dir := r.Dir()
	r.Close()

	t.Run("stalled", func(t *testing.T) {
		r := reopen(t, dir, func(b backend.Backend) backend.Backend {
			return stallingBackend{Backend: b, stall: root.ObjectName()}
		})
		var logs syncBuffer
		mnt, _ := mountRepo(t, r, Options{Logger: newLogger(&logs), ReadTimeout: 200 * time.Millisecond})
		pair := filepath.Join(mnt, "web01", ".compare", pairName)
		start := time.Now()
		if fi, err := os.Stat(pair); err != nil || !fi.IsDir() {
			t.Fatalf("stat of a stalled pair: %v", err)
		}
		if el := time.Since(start); el > time.Second {
			t.Fatalf("stat took %v", el)
		}
		start = time.Now()
		if _, err := os.ReadDir(pair); !errors.Is(err, syscall.EIO) {
			t.Fatalf("ls of a stalled pair: %v, want EIO", err)
		}
		if el := time.Since(start); el < compareTimeoutFactor*200*time.Millisecond || el > 20*time.Second {
			t.Fatalf("EIO after %v, want the comparison timeout %v", el, compareTimeoutFactor*200*time.Millisecond)
		}
		if !strings.Contains(logs.String(), "deadline exceeded") {
			t.Fatalf("log:\n%s", logs.String())
		}
	})

	t.Run("damaged", func(t *testing.T) {
		p := filepath.Join(dir, "store", root.ObjectName())
		if err := os.Remove(p); err != nil {
			t.Fatalf("remove B's map root: %v", err)
		}
		r := reopen(t, dir, nil)
		var logs syncBuffer
		mnt, _ := mountRepo(t, r, Options{Logger: newLogger(&logs)})
		pair := filepath.Join(mnt, "web01", ".compare", pairName)
		if fi, err := os.Stat(pair); err != nil || !fi.IsDir() {
			t.Fatalf("stat of a damaged pair: %v", err)
		}
		if logs.String() != "" {
			t.Fatalf("stat logged:\n%s", logs.String())
		}
		for _, p := range []string{pair, pair, filepath.Join(pair, "changes.txt")} {
			if _, err := os.ReadDir(p); !errors.Is(err, syscall.EIO) {
				t.Fatalf("%s: %v, want EIO", p, err)
			}
		}
		t.Logf("log: %s", logs.String())
		if n := strings.Count(logs.String(), "compare web01/"); n != 1 || !strings.Contains(logs.String(), "map root") {
			t.Fatalf("logged %d times:\n%s", n, logs.String())
		}
		// The rest of the mount is unharmed.
		if _, err := os.ReadFile(filepath.Join(mnt, "web01", catalog.FormatPointTime(t0), "disk0/p1/etc/hostname")); err != nil {
			t.Fatal(err)
		}
	})
}

// reopen opens the repository at dir (through wrap, if not nil) until the
// test ends, with nothing in its caches.
func reopen(t *testing.T, dir string, wrap func(backend.Backend) backend.Backend) *catalog.Repo {
	t.Helper()
	r, err := catalog.Open(context.Background(), dir, catalog.Options{WrapBackend: wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
