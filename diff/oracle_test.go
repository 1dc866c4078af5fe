package diff_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/diff"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// These tests build two versions of a disk whose differences are known
// (testimages/diff/*-pair.sh, written by fuse2fs, ntfs-3g and mtools),
// ingest both as points and check diff.Compare against oracles:
//   - the file-level changes against rsync -n -c -a -i -X -A --delete run
//     between the two read-only mounted trees (renames, which rsync shows
//     as a deletion and an addition, against the inode numbers of the
//     mounts);
//   - each reported version (inode, size, mode, owner, mtime, target,
//     SHA-256) against lstat, readlink and sha256 of the mounted file;
//   - the owners of a sample of changed 4 KiB blocks against The Sleuth
//     Kit (ifind -d, ffind, blkstat), including a block that belonged to
//     a removed file in A and to a new file in B.

// fsCase is one filesystem the pair scripts cover.
type fsCase struct {
	kind   string // pair script and mount.sh kind
	tsk    string // TSK -f type
	inodes bool   // inode numbers identify files, so renames are R
	owners bool   // modes and owners are the guest's (not the mount's)
}

func TestOracleExt4(t *testing.T) {
	oracle(t, fsCase{kind: "ext4", tsk: "ext4", inodes: true, owners: true})
}

func TestOracleNTFS(t *testing.T) {
	testenv.NeedTools(t, "mkntfs", "ntfs-3g")
	oracle(t, fsCase{kind: "ntfs", tsk: "ntfs", inodes: true})
}

func TestOracleFAT(t *testing.T) {
	testenv.NeedTools(t, "mkfs.fat", "mcopy")
	oracle(t, fsCase{kind: "fat", tsk: "fat16"})
}

func oracle(t *testing.T, fc fsCase) {
	testenv.NeedTools(t, "sgdisk", "rsync", "ifind", "ffind", "blkstat", "istat", "mke2fs", "debugfs", "fuse2fs", "setfattr", "fusermount")
	if fc.kind != "fat" {
		testenv.NeedFUSE(t)
	}
	dir := buildPair(t, fc.kind)
	diskA, diskB := filepath.Join(dir, "A.raw"), filepath.Join(dir, "B.raw")
	repo := catalog.TestRepo(t)
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	ma := ingestDisk(t, repo, diskA, t0)
	mb := ingestDisk(t, repo, diskB, t0.Add(24*time.Hour))
	ctx := context.Background()
	rep, err := diff.Compare(ctx, repo, ma, mb, diff.Options{Blocks: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Equal() {
		t.Fatal("the pair is reported equal")
	}
	d := findDisk(t, rep, "disk0")
	v := findVolume(t, d, "p1")
	ta, tb := mountTree(t, fc.kind, diskA), mountTree(t, fc.kind, diskB)

	t.Run("rsync", func(t *testing.T) { checkRsync(t, fc, v, ta, tb) })
	t.Run("expected", func(t *testing.T) { checkExpected(t, fc, v, filepath.Join(dir, "expect.txt")) })
	t.Run("entries", func(t *testing.T) { checkEntries(t, fc, v, ta, tb, dir) })
	t.Run("owners", func(t *testing.T) { checkOwners(t, fc, d, dir) })
	t.Run("chunks", func(t *testing.T) {
		// Without Blocks: the same file changes; chunk-sized ranges that
		// cover every refined one.
		r, err := diff.Compare(ctx, repo, ma, mb, diff.Options{})
		if err != nil {
			t.Fatal(err)
		}
		dc := findDisk(t, r, "disk0")
		vc := findVolume(t, dc, "p1")
		if fmt.Sprint(ourChanges(vc)) != fmt.Sprint(ourChanges(v)) {
			t.Errorf("file changes differ with and without Blocks:\n%v\n%v", ourChanges(vc), ourChanges(v))
		}
		// Whole chunks: the chunk size in format 1, 4 KiB units in format 2.
		want := int64(ma.ChunkSize)
		if ma.Chunking != nil {
			want = 4096
		}
		if dc.Granularity != want || dc.Refined {
			t.Errorf("granularity %d (refined %v) without Blocks, want %d", dc.Granularity, dc.Refined, want)
		}
		for _, rg := range d.Ranges {
			if c := rangeAt(dc, rg.Off); c.Len == 0 || rg.Off+rg.Len > c.Off+c.Len {
				t.Errorf("refined range %d+%d is not inside a chunk range", rg.Off, rg.Len)
			}
		}
		if dc.ChangedBytes < d.ChangedBytes {
			t.Errorf("chunk ranges hold %d bytes, fewer than the %d refined ones", dc.ChangedBytes, d.ChangedBytes)
		}
	})
	t.Run("walk", func(t *testing.T) {
		// Walking both trees finds what the file indexes find.
		w, err := diff.Compare(ctx, repo, ma, mb, diff.Options{Blocks: true, NoIndex: true})
		if err != nil {
			t.Fatal(err)
		}
		jr, _ := json.Marshal(rep)
		jw, _ := json.Marshal(w)
		if !bytes.Equal(jr, jw) {
			t.Errorf("reports differ:\nindexes: %s\nwalk:    %s", summary(rep), summary(w))
		}
	})
	t.Run("identical", func(t *testing.T) {
		mc := ingestDisk(t, repo, diskA, t0.Add(48*time.Hour))
		r, err := diff.Compare(ctx, repo, ma, mc, diff.Options{Blocks: true})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Equal() {
			t.Fatalf("A against a second ingest of A is not equal: %s", summary(r))
		}
		for _, d := range r.Disks {
			if len(d.Ranges) != 0 || d.ChangedBytes != 0 {
				t.Errorf("disk %s: %d ranges, %d changed bytes for identical points", d.Name, len(d.Ranges), d.ChangedBytes)
			}
		}
	})
}

func findDisk(t *testing.T, r *diff.Report, name string) *diff.Disk {
	t.Helper()
	for _, d := range r.Disks {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no disk %s in the report: %s", name, summary(r))
	return nil
}

func findVolume(t *testing.T, d *diff.Disk, name string) *diff.Volume {
	t.Helper()
	for i := range d.Volumes {
		if v := &d.Volumes[i]; v.Name == name {
			if v.Err != "" {
				t.Fatalf("volume %s: %s", name, v.Err)
			}
			return v
		}
	}
	t.Fatalf("no volume %s on disk %s", name, d.Name)
	return nil
}

func summary(r *diff.Report) string {
	var b strings.Builder
	for _, d := range r.Disks {
		fmt.Fprintf(&b, "\n%s %q %d ranges", d.Name, d.Status, len(d.Ranges))
		for _, v := range d.Volumes {
			fmt.Fprintf(&b, "\n  %s %s %s", v.Name, v.Type, v.Err)
			for _, c := range v.Changes {
				fmt.Fprintf(&b, "\n    %s %s %s %v", c.Status, c.Path, c.From, c.Fields)
			}
		}
	}
	return b.String()
}

// rsyncChanges runs rsync from B to A (what would turn A into B) and maps
// its itemized changes to statuses: *deleting is D; a new item is A, or T
// when A holds the path with another type; a changed checksum, size or
// symlink value is M; anything else (time, perms, owner, group, ACL,
// xattr) is m. Paths are "/" first, like the report's.
func rsyncChanges(t *testing.T, ta, tb string) map[string]diff.Status {
	st, _ := rsyncItems(t, ta, tb)
	return st
}

// rsyncItems also returns each changed path's itemize letters.
func rsyncItems(t *testing.T, ta, tb string) (map[string]diff.Status, map[string]string) {
	t.Helper()
	items := map[string]string{}
	out := tool(t, "rsync", "-n", "-c", "-a", "-i", "-X", "-A", "-8", "--modify-window=-1", "--delete", tb+"/", ta+"/")
	got := map[string]diff.Status{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 13 {
			t.Fatalf("rsync line %q", line)
		}
		item, p := line[:11], line[12:]
		if item[1] == 'L' {
			p, _, _ = strings.Cut(p, " -> ")
		}
		p = "/" + strings.TrimSuffix(strings.TrimPrefix(p, "./"), "/")
		if p == "/." {
			p = "/"
		}
		var st diff.Status
		switch {
		case strings.HasPrefix(line, "*deleting"):
			st = diff.Deleted
		case strings.HasSuffix(item, "+++++++++"):
			st = diff.Added
			if _, err := os.Lstat(filepath.Join(ta, p)); err == nil {
				st = diff.TypeChanged
			}
		case item[2] == 'c' || item[3] == 's':
			st = diff.Modified
		case strings.Trim(item[2:], ". ") != "":
			st = diff.MetadataOnly
		default:
			continue
		}
		got[p] = st
		items[p] = item
	}
	return got, items
}

// ourChanges maps the report as rsync sees it: a rename is the removal of
// its old path and the addition of its new one.
func ourChanges(v *diff.Volume) map[string]diff.Status {
	got := map[string]diff.Status{}
	for _, c := range v.Changes {
		if c.Status == diff.Renamed {
			got[c.From] = diff.Deleted
			got[c.Path] = diff.Added
			continue
		}
		got[c.Path] = c.Status
	}
	return got
}

func checkRsync(t *testing.T, fc fsCase, v *diff.Volume, ta, tb string) {
	want, items := rsyncItems(t, ta, tb)
	got := ourChanges(v)
	checkFields(t, v, items)
	if fc.kind == "fat" {
		// mcopy gives the copied-out root the time of the copy; FAT
		// keeps no times for its root.
		delete(want, "/")
		delete(got, "/")
	}
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		if want[p] != got[p] {
			t.Errorf("%s: rsync says %q, diff says %q", p, want[p], got[p])
		}
	}
	if len(want) == 0 {
		t.Error("rsync sees no change: the pair script did not change B")
	}
	t.Logf("%d paths changed by rsync's account, %d by diff's", len(want), len(got))
	// A rename is the same inode under both names.
	for _, c := range v.Changes {
		if c.Status != diff.Renamed {
			continue
		}
		if !fc.inodes {
			t.Errorf("%s: renamed from %s on a filesystem without inode numbers", c.Path, c.From)
			continue
		}
		ia, ib := lstat(t, filepath.Join(ta, c.From)), lstat(t, filepath.Join(tb, c.Path))
		if ia == nil || ib == nil || ia.Ino != ib.Ino {
			t.Errorf("%s renamed from %s: inodes on the mounts differ", c.Path, c.From)
		}
	}
}

// checkFields compares the fields of M and m changes with rsync's
// itemize letters: c content, s size, t mtime, p mode, o uid, g gid,
// x and a xattrs (ACLs are system.posix_acl_* xattrs).
func checkFields(t *testing.T, v *diff.Volume, items map[string]string) {
	letters := []struct {
		pos    int
		letter byte
		field  string
	}{{2, 'c', "content"}, {3, 's', "size"}, {4, 't', "mtime"}, {5, 'p', "mode"}, {6, 'o', "uid"}, {7, 'g', "gid"}, {9, 'a', "xattr:"}, {10, 'x', "xattr:"}}
	for _, c := range v.Changes {
		item, ok := items[c.Path]
		if !ok || (c.Status != diff.Modified && c.Status != diff.MetadataOnly) || item[1] == 'L' {
			continue
		}
		has := func(f string) bool {
			return slices.ContainsFunc(c.Fields, func(x string) bool { return x == f || f == "xattr:" && strings.HasPrefix(x, f) })
		}
		for _, l := range letters {
			switch {
			case item[l.pos] == l.letter && !has(l.field):
				t.Errorf("%s: rsync says %s (%c), fields %v lack %s", c.Path, item, l.letter, c.Fields, l.field)
			case item[l.pos] != l.letter && l.field != "xattr:" && has(l.field):
				t.Errorf("%s: field %s, but rsync says %s", c.Path, l.field, item)
			}
		}
	}
}

func lstat(t *testing.T, p string) *syscall.Stat_t {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Errorf("lstat %s: %v", p, err)
		return nil
	}
	return &st
}

// checkExpected checks that every change the pair script made on purpose
// is reported with its status (and old path, for a rename).
func checkExpected(t *testing.T, fc fsCase, v *diff.Volume, list string) {
	b, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]diff.Change{}
	for _, c := range v.Changes {
		have[c.Path] = c
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		st, rest, _ := strings.Cut(line, " ")
		p, from := rest, ""
		if st == "R" {
			p, from, _ = strings.Cut(rest, " ")
		}
		c, ok := have[p]
		switch {
		case !ok:
			t.Errorf("%s %s: not reported", st, rest)
		case string(c.Status) != st || c.From != from:
			t.Errorf("%s %s: reported as %s %s %s", st, rest, c.Status, c.Path, c.From)
		}
	}
}

// checkEntries compares each reported version with the file on the mount
// of its point.
func checkEntries(t *testing.T, fc fsCase, v *diff.Volume, ta, tb, dir string) {
	diskA, diskB := filepath.Join(dir, "A.raw"), filepath.Join(dir, "B.raw")
	partOff := readReuse(t, filepath.Join(dir, "reuse.txt")).partOff
	n := 0
	defer func() { t.Logf("%d versions checked", n) }()
	for _, c := range v.Changes {
		pa := c.Path
		if c.Status == diff.Renamed {
			pa = c.From
		}
		switch c.Status {
		case diff.Added:
			if c.A != nil || c.B == nil {
				t.Errorf("%s %s: want only a B version", c.Status, c.Path)
			}
		case diff.Deleted:
			if c.B != nil || c.A == nil {
				t.Errorf("%s %s: want only an A version", c.Status, c.Path)
			}
		default:
			if c.A == nil || c.B == nil {
				t.Errorf("%s %s: want both versions", c.Status, c.Path)
			}
		}
		if c.A != nil {
			n++
			checkEntry(t, fc, c, "A", c.A, filepath.Join(ta, pa), diskA, partOff)
		}
		if c.B != nil {
			n++
			checkEntry(t, fc, c, "B", c.B, filepath.Join(tb, c.Path), diskB, partOff)
		}
	}
}

func checkEntry(t *testing.T, fc fsCase, c diff.Change, side string, e *diff.Entry, p, disk string, partOff int64) {
	t.Helper()
	where := fmt.Sprintf("%s %s (%s)", c.Status, c.Path, side)
	st := lstat(t, p)
	if st == nil {
		return
	}
	if want := typeOf(st.Mode); e.Type != want {
		t.Errorf("%s: type %s, mount says %s", where, e.Type, want)
		return
	}
	if fc.inodes && e.Ino != st.Ino {
		t.Errorf("%s: inode %d, mount says %d", where, e.Ino, st.Ino)
	}
	if fc.owners && (e.Mode != st.Mode || e.Uid != st.Uid || e.Gid != st.Gid) {
		t.Errorf("%s: mode %o uid %d gid %d, mount says %o %d %d", where, e.Mode, e.Uid, e.Gid, st.Mode, st.Uid, st.Gid)
	}
	if e.Type != "dir" || fc.kind != "fat" { // mcopy gives no directory times
		mt, by := time.Unix(st.Mtim.Sec, st.Mtim.Nsec), "the mount"
		if fc.kind == "ext4" {
			// fuse2fs 1.47.0 drops the nanoseconds: ask istat.
			mt, by = istatMtime(t, fc, disk, partOff, e.Ino), "istat"
		}
		if !e.Mtime.Equal(mt) {
			t.Errorf("%s: mtime %v, %s says %v", where, e.Mtime, by, mt)
		}
	}
	switch e.Type {
	case "file":
		if e.Size != st.Size {
			t.Errorf("%s: size %d, mount says %d", where, e.Size, st.Size)
		}
		if want := sha256File(t, p); e.SHA256 != want {
			t.Errorf("%s: sha256 %q, sha256 of the mounted file %s", where, e.SHA256, want)
		}
	case "symlink":
		if target, err := os.Readlink(p); err != nil || e.Target != target {
			t.Errorf("%s: target %q, readlink says %q (%v)", where, e.Target, target, err)
		}
	}
}

// istatMtime is the modification time TSK's istat gives for inode ino.
func istatMtime(t *testing.T, fc fsCase, disk string, partOff int64, ino uint64) time.Time {
	out := tool(t, "istat", "-z", "UTC", "-f", fc.tsk, "-o", strconv.FormatInt(partOff/512, 10), disk, strconv.FormatUint(ino, 10))
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "File Modified:"); ok {
			v = strings.TrimSuffix(strings.TrimSpace(v), " (UTC)")
			mt, err := time.Parse("2006-01-02 15:04:05.999999999", v)
			if err != nil {
				t.Fatalf("istat %d: %v", ino, err)
			}
			return mt
		}
	}
	t.Fatalf("istat %d: no File Modified line\n%s", ino, out)
	return time.Time{}
}

func typeOf(mode uint32) string {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return "file"
	case syscall.S_IFDIR:
		return "dir"
	case syscall.S_IFLNK:
		return "symlink"
	case syscall.S_IFCHR:
		return "char"
	case syscall.S_IFBLK:
		return "block"
	case syscall.S_IFIFO:
		return "fifo"
	case syscall.S_IFSOCK:
		return "socket"
	}
	return "?"
}

func sha256File(t *testing.T, p string) string {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// reuse is the block the pair script proved reused (reuse.txt).
type reuse struct {
	unit, unitSize, partOff int64 // TSK block address, its size, partition offset
	victim, reuser          string
}

func readReuse(t *testing.T, p string) reuse {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) != 5 {
		t.Fatalf("%s: %q", p, b)
	}
	var r reuse
	for i, x := range []*int64{&r.unit, &r.unitSize, &r.partOff} {
		if *x, err = strconv.ParseInt(f[i], 10, 64); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	r.victim, r.reuser = f[3], f[4]
	return r
}

// tskOwner is what The Sleuth Kit says owns one filesystem block.
type tskOwner struct {
	kind  diff.OwnerKind
	paths []string // every name of the owning file
	what  string   // TSK's own words, for messages
	// orMetadata accepts a metadata owner as well (an MFT record).
	orMetadata bool
}

// tskOwnerOf asks ifind, ffind and blkstat about block unit of the
// filesystem at partOff in disk.
func tskOwnerOf(t *testing.T, fc fsCase, disk string, partOff, unit int64) tskOwner {
	t.Helper()
	o := strconv.FormatInt(partOff/512, 10)
	u := strconv.FormatInt(unit, 10)
	out, err := exec.Command("ifind", "-f", fc.tsk, "-o", o, "-d", u, disk).CombinedOutput()
	ino := strings.TrimSpace(string(out))
	if ino == "Meta Data" {
		return tskOwner{kind: diff.OwnerMetadata, what: "ifind: Meta Data"}
	}
	if err != nil || ino == "" || strings.Contains(ino, "not found") {
		alloc := tool(t, "blkstat", "-f", fc.tsk, "-o", o, disk, u)
		if strings.Contains(alloc, "Not Allocated") {
			return tskOwner{kind: diff.OwnerUnallocated, what: "ifind: " + ino + "; blkstat: not allocated"}
		}
		return tskOwner{kind: diff.OwnerMetadata, what: "ifind: " + ino + "; blkstat: allocated"}
	}
	rec, _, _ := strings.Cut(ino, "-") // NTFS: record-type-id
	n, err := strconv.ParseUint(rec, 10, 64)
	if err != nil {
		t.Fatalf("ifind -d %s: %q", u, ino)
	}
	if fc.tsk == "ntfs" && strings.HasPrefix(ino, "0-128-") {
		// A cluster of the $MFT: filesystem metadata, or the file whose
		// record starts the cluster (the report may name either).
		r := mftRecordAt(t, fc, disk, o, unit)
		own := fileOwner(t, fc, disk, o, r, ino)
		if own.kind == diff.OwnerFile {
			own.orMetadata = true
			own.what = fmt.Sprintf("ifind: $MFT, record %d at the cluster's start: %s", r, own.what)
			return own
		}
		return tskOwner{kind: diff.OwnerMetadata, what: fmt.Sprintf("ifind: $MFT, record %d: %s", r, own.what)}
	}
	return fileOwner(t, fc, disk, o, n, ino)
}

// fileOwner is the owner TSK gives for inode (or MFT record) n.
func fileOwner(t *testing.T, fc fsCase, disk, o string, n uint64, ino string) tskOwner {
	switch {
	case fc.tsk == "ext4" && n < 11 && n != 2, // reserved inodes: journal, resize, ...
		fc.tsk == "ntfs" && n < 24 && n != 5: // $MFT, $LogFile, $Bitmap, ... (5 is the root)
		return tskOwner{kind: diff.OwnerMetadata, what: "ifind: system inode " + ino}
	}
	out, err := exec.Command("ffind", "-a", "-f", fc.tsk, "-o", o, disk, strconv.FormatUint(n, 10)).CombinedOutput()
	names := strings.TrimSpace(string(out))
	var paths []string
	for _, l := range strings.Split(names, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "/") {
			paths = append(paths, path.Clean(l))
		}
	}
	if err != nil || len(paths) == 0 {
		return tskOwner{kind: diff.OwnerMetadata, what: fmt.Sprintf("ifind: %s, ffind %d: no live name (%s)", ino, n, names)}
	}
	if fc.tsk == "ext4" && n == 2 || fc.tsk == "ntfs" && n == 5 {
		paths = []string{"/"}
	}
	if strings.HasPrefix(paths[0], "/$") { // NTFS $Extend/$ObjId, ...
		return tskOwner{kind: diff.OwnerMetadata, what: "ifind: system file " + ino + " " + paths[0]}
	}
	return tskOwner{kind: diff.OwnerFile, paths: paths, what: "ifind: " + ino + ", ffind: " + names}
}

// mftRecordAt is the number of the MFT record that starts cluster unit,
// from the cluster list istat gives for $MFT's $DATA.
func mftRecordAt(t *testing.T, fc fsCase, disk, o string, unit int64) uint64 {
	out := tool(t, "istat", "-f", fc.tsk, "-o", o, disk, "0")
	var clusters []int64
	on := false
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Type: ") {
			on = strings.HasPrefix(l, "Type: $DATA ")
			continue
		}
		if on {
			for _, f := range strings.Fields(l) {
				c, err := strconv.ParseInt(f, 10, 64)
				if err != nil {
					t.Fatalf("istat $MFT: %q", l)
				}
				clusters = append(clusters, c)
			}
		}
	}
	i := slices.Index(clusters, unit)
	if i < 0 {
		t.Fatalf("cluster %d is not in $MFT's list %v", unit, clusters)
	}
	return uint64(i) * 4096 / 1024 // 4 KiB clusters, 1 KiB records (mkntfs defaults)
}

// ownerAt finds the owner covering disk offset off.
func ownerAt(owners []diff.Owner, off int64) (diff.Owner, bool) {
	for _, o := range owners {
		if o.Off <= off && off < o.Off+o.Len {
			return o, true
		}
	}
	return diff.Owner{}, false
}

// checkOwners compares the owners of a sample of changed blocks, and of
// the block the pair script proved reused, with The Sleuth Kit's.
func checkOwners(t *testing.T, fc fsCase, d *diff.Disk, dir string) {
	ru := readReuse(t, filepath.Join(dir, "reuse.txt"))
	if d.Granularity != 4096 || !d.Refined {
		t.Errorf("granularity %d (refined %v) with Blocks, want 4096", d.Granularity, d.Refined)
	}
	var blocks []int64 // disk offsets of changed 4 KiB blocks in the partition
	reused := ru.partOff + ru.unit*ru.unitSize
	found := false
	for _, r := range d.Ranges {
		if r.Off%4096 != 0 || r.Len%4096 != 0 {
			t.Errorf("range %d+%d is not made of 4 KiB blocks", r.Off, r.Len)
		}
		if r.Off <= reused && reused < r.Off+r.Len {
			found = true
		}
		for off := r.Off; off < r.Off+r.Len; off += 4096 {
			if off >= ru.partOff {
				blocks = append(blocks, off)
			}
		}
	}
	if !found {
		t.Fatalf("the reused block at disk offset %d is not in a changed range", reused)
	}
	// Every block, or an even sample of 70 on bigger pairs (TSK takes
	// tens of milliseconds a block), plus the reused one.
	sample := []int64{reused}
	step := max(1, (len(blocks)+69)/70)
	for i := 0; i < len(blocks); i += step {
		sample = append(sample, blocks[i])
	}
	diskA, diskB := filepath.Join(dir, "A.raw"), filepath.Join(dir, "B.raw")
	kinds := map[string]int{}
	defer func() { t.Logf("%d changed blocks, %d sampled; owners seen: %v", len(blocks), len(sample), kinds) }()
	for _, off := range sample {
		r := rangeAt(d, off)
		unit := (off - ru.partOff) / ru.unitSize
		for _, s := range []struct {
			name   string
			disk   string
			owners []diff.Owner
		}{{"A", diskA, r.A}, {"B", diskB, r.B}} {
			want := tskOwnerOf(t, fc, s.disk, ru.partOff, unit)
			got, ok := ownerAt(s.owners, off)
			kinds[s.name+":"+string(want.kind)]++
			where := fmt.Sprintf("block at disk offset %d (%s unit %d) in %s", off, fc.tsk, unit, s.name)
			switch {
			case !ok:
				t.Errorf("%s: no owner reported; TSK: %s", where, want.what)
			case want.orMetadata && got.Kind == diff.OwnerMetadata:
			case got.Kind != want.kind:
				t.Errorf("%s: owner %s %q; TSK: %s", where, got.Kind, got.Path, want.what)
			case got.Kind == diff.OwnerFile && !slices.Contains(want.paths, got.Path):
				t.Errorf("%s: owner file %q; TSK: %s", where, got.Path, want.what)
			}
		}
	}
	r := rangeAt(d, reused)
	if o, _ := ownerAt(r.A, reused); o.Kind != diff.OwnerFile || o.Path != ru.victim {
		t.Errorf("reused block in A: owner %s %q, want file %s", o.Kind, o.Path, ru.victim)
	}
	if o, _ := ownerAt(r.B, reused); o.Kind != diff.OwnerFile || o.Path != ru.reuser {
		t.Errorf("reused block in B: owner %s %q, want file %s", o.Kind, o.Path, ru.reuser)
	}
}

func rangeAt(d *diff.Disk, off int64) diff.Range {
	for _, r := range d.Ranges {
		if r.Off <= off && off < r.Off+r.Len {
			return r
		}
	}
	return diff.Range{}
}

// BenchmarkCompareRepo compares the two points of VM "bench" in the
// repository DIFF_BENCH_REPO names (bench/diff.sh builds it when run with
// that variable set); skipped without it.
func BenchmarkCompareRepo(b *testing.B) {
	dir := os.Getenv("DIFF_BENCH_REPO")
	if dir == "" {
		b.Skip("DIFF_BENCH_REPO is not set")
	}
	ctx := context.Background()
	repo, err := catalog.Open(ctx, dir, catalog.Options{Command: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer repo.Close()
	ps, err := repo.Points("bench")
	if err != nil || len(ps) < 2 {
		b.Fatalf("points of bench: %v (%d)", err, len(ps))
	}
	for _, c := range []struct {
		name string
		opts diff.Options
	}{
		{"files", diff.Options{}},
		{"files+blocks", diff.Options{Blocks: true}},
		{"chunks-only", diff.Options{NoFiles: true}},
		{"blocks-only", diff.Options{NoFiles: true, Blocks: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := diff.Compare(ctx, repo, ps[0], ps[1], c.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
