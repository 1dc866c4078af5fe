package index

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

func scriptPath(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testimages", name)
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

var t0 = time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)

// fixture is a repository with one point of VM "vm1" per tree version,
// each a GPT disk "disk0" holding an ext4 p1 made from the tree by mke2fs.
type fixture struct {
	repo   *catalog.Repo
	trees  []string // reference tree of each point
	images []string // its raw disk image
	points []*catalog.Manifest
}

func newFixture(t testing.TB, versions ...int) *fixture {
	t.Helper()
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs")
	f := &fixture{repo: catalog.TestRepo(t)}
	dir := t.TempDir()
	for i, v := range versions {
		tree := filepath.Join(dir, "tree"+strconv.Itoa(i))
		img := filepath.Join(dir, "disk"+strconv.Itoa(i)+".raw")
		run(t, "bash", scriptPath("index/tree.sh"), tree, strconv.Itoa(v))
		run(t, "bash", scriptPath("disk-from-tree.sh"), tree, img, "32")
		f.trees, f.images = append(f.trees, tree), append(f.images, img)
		f.points = append(f.points, ingestImage(t, f.repo, "vm1", t0.Add(time.Duration(i)*24*time.Hour), img))
	}
	return f
}

func ingestImage(t testing.TB, repo *catalog.Repo, vm string, when time.Time, img string) *catalog.Manifest {
	t.Helper()
	d, err := image.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m, err := ingest.Ingest(context.Background(), repo, ingest.Options{VM: vm, Time: when, SourceKind: "image"},
		[]ingest.DiskSpec{{Name: "disk0", Disk: d, Source: img, Format: d.Format()}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// refEntry is what find(1) says about a path of a reference tree.
type refEntry struct {
	typ      byte // f d l
	perm     uint32
	uid, gid uint32
	size     int64
	mtime    time.Time
	nlink    uint32
	sha256   string // regular files
}

// refTree lists a tree with find(1) and sha256sum(1), keyed by "/path".
func refTree(t testing.TB, tree string) map[string]refEntry {
	t.Helper()
	out := run(t, "find", tree, "-mindepth", "1", "-printf", `/%P\t%y\t%m\t%U\t%G\t%s\t%T@\t%n\n`)
	ref := map[string]refEntry{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 8 {
			t.Fatalf("find line %q", line)
		}
		perm, _ := strconv.ParseUint(f[2], 8, 32)
		uid, _ := strconv.Atoi(f[3])
		gid, _ := strconv.Atoi(f[4])
		size, _ := strconv.ParseInt(f[5], 10, 64)
		nlink, _ := strconv.Atoi(f[7])
		sec, frac, _ := strings.Cut(f[6], ".")
		s, _ := strconv.ParseInt(sec, 10, 64)
		ns, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		e := refEntry{typ: f[1][0], perm: uint32(perm), uid: uint32(uid), gid: uint32(gid), size: size, mtime: time.Unix(s, ns).UTC(), nlink: uint32(nlink)}
		if e.typ == 'f' {
			sum := run(t, "sha256sum", filepath.Join(tree, f[0]))
			e.sha256 = strings.Fields(sum)[0]
		}
		ref[f[0]] = e
	}
	return ref
}

func typeLetter(mode uint32) byte {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return 'f'
	case syscall.S_IFDIR:
		return 'd'
	case syscall.S_IFLNK:
		return 'l'
	}
	return '?'
}

// guestEntries returns the entries of disk0/p1 without lost+found.
func guestEntries(t testing.TB, ix *Index) map[string]Entry {
	t.Helper()
	v := ix.Volume("disk0", "p1")
	if v == nil || v.Err != "" {
		t.Fatalf("volume disk0/p1: %+v", v)
	}
	out := map[string]Entry{}
	for _, e := range v.Entries() {
		if e.Path == "/" || e.Path == "/lost+found" || strings.HasPrefix(e.Path, "/lost+found/") {
			continue
		}
		out[e.Path] = e
	}
	return out
}

// debugfsTimes returns the ctime and crtime debugfs stat shows for path in
// partition 1 (at 1 MiB) of a disk image; crtime zero when not recorded.
func debugfsTimes(t testing.TB, img, path string) (ctime, crtime time.Time) {
	t.Helper()
	out := run(t, "debugfs", "-R", "stat \""+path+"\"", img+"?offset=1048576")
	get := func(field string) time.Time {
		m := regexp.MustCompile(`(?m)^\s*` + field + `: 0x([0-9a-f]+):([0-9a-f]+)`).FindStringSubmatch(out)
		if m == nil {
			return time.Time{}
		}
		sec, _ := strconv.ParseUint(m[1], 16, 32)
		extra, _ := strconv.ParseUint(m[2], 16, 32)
		// The two low bits of extra extend the seconds past 2038.
		return time.Unix(int64(int32(sec))+int64(extra&3)<<32, int64(extra>>2)).UTC()
	}
	return get("ctime"), get("crtime")
}
