package xfs

import (
	"os"
	"path/filepath"
	"testing"
)

// Seeds are structures cut from images that build.sh made (mkfs.xfs and
// the kernel); testdata/seeds/README says how. seed fails the fuzz run
// when one is missing, so a target never runs on no corpus.
func seed(f *testing.F, name string) []byte {
	f.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "seeds", name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// cyclic is a volume whose every block holds the same bytes: a B+tree
// read through it points back at itself, which the walkers must catch.
type cyclic struct{ b []byte }

func (c cyclic) ReadAt(p []byte, off int64) (int, error) {
	for n := 0; n < len(p); {
		n += copy(p[n:], c.b[(off+int64(n))%int64(len(c.b)):])
	}
	return len(p), nil
}

// fuzzFS is an FS over sb (a seed superblock) whose blocks all read as blk.
func fuzzFS(t testing.TB, sbName string, blk []byte) *FS {
	sb, err := parseSuperblock(seedCache[sbName])
	if err != nil {
		t.Fatal(err)
	}
	if len(blk) == 0 {
		blk = []byte{0}
	}
	// newFS, as Open makes it: a cache left out (iwins once) is a nil
	// dereference no real volume reaches.
	fs := newFS(cyclic{blk}, int64(sb.dblocks)<<sb.blockLog, Options{IgnoreChecksums: true, InodeCacheSize: 16})
	fs.sb = sb
	return fs
}

var seedCache = map[string][]byte{}

func loadSeeds(f *testing.F) {
	for _, n := range []string{"sb-v5.bin", "sb-v4.bin"} {
		seedCache[n] = seed(f, n)
	}
}

func FuzzSuperblock(f *testing.F) {
	f.Add(seed(f, "sb-v5.bin"))
	f.Add(seed(f, "sb-v4.bin"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sb, err := parseSuperblock(b)
		if err != nil {
			return
		}
		_ = sb.checkFeatures()
		_ = sb.features()
		_ = sb.hasFType()
	})
}

func FuzzInode(f *testing.F) {
	loadSeeds(f)
	for _, n := range []string{"inode-root-v5.bin", "inode-fragmented-v5.bin", "inode-xnode-v5.bin", "inode-hello-v4.bin", "inode-sf-v5.bin"} {
		f.Add(seed(f, n), n[len(n)-6:len(n)-4] == "v5")
	}
	f.Fuzz(func(t *testing.T, b []byte, v5 bool) {
		sbName := "sb-v4.bin"
		if v5 {
			sbName = "sb-v5.bin"
		}
		fs := fuzzFS(t, sbName, b)
		in, err := parseInode(b, fs.sb.rootIno)
		if err != nil {
			return
		}
		fs.inodes.add(in.ino, in)
		_ = in.rdev()
		_, _ = fs.Stat(in.ino)
		_, _ = fs.forkRuns(in, in.dataFork, in.format, in.nextents, "data")
		_, _ = fs.Lookup(in.ino, "f1") // by hash: before ReadDir lists it
		_, _ = fs.ReadDir(in.ino)
		_, _ = fs.Readlink(in.ino)
		_, _ = fs.ListXattr(in.ino)
		_, _ = fs.GetXattr(in.ino, "system.posix_acl_access")
		if f, err := fs.Open(in.ino); err == nil {
			p := make([]byte, 4096)
			_, _ = f.ReadAt(p, 0)
			_, _ = f.Extents()
		}
	})
}

func FuzzDirBlock(f *testing.F) {
	loadSeeds(f)
	f.Add(seed(f, "dirblock-v5.bin"), true)
	f.Add(seed(f, "dirdata-v5.bin"), true)
	f.Add(seed(f, "dirdata-v4.bin"), false)
	f.Fuzz(func(t *testing.T, b []byte, v5 bool) {
		sbName := "sb-v4.bin"
		if v5 {
			sbName = "sb-v5.bin"
		}
		fs := fuzzFS(t, sbName, b)
		if len(b) < 16 {
			return
		}
		_, _ = fs.dataBlockEntries(fs.sb.rootIno, 0, b, nil)
		// b as every data and leaf block of a directory, looked up by hash
		leaf := uint64(leafOffset) >> fs.sb.blockLog
		runs := []run{{lblk: 0, count: 16}, {lblk: leaf, count: 16}}
		for _, name := range []string{"f1", "abcdefgh"} {
			h := hashLookup{fs: fs, in: &inode{ino: fs.sb.rootIno}, runs: runs, name: name,
				hash: daHashName([]byte(name)), per: 1 << fs.sb.dirBlkLog}
			_, _, _ = h.block()
			_, _, _ = h.leaves()
		}
	})
}

func FuzzAttrBlock(f *testing.F) {
	loadSeeds(f)
	f.Add(seed(f, "attrleaf-v5.bin"))
	f.Add(seed(f, "attrnode-v5.bin"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fs := fuzzFS(t, "sb-v5.bin", b)
		if len(b) < attrLeafHdrV5 {
			return
		}
		_, _ = fs.leafEntries(1, 0, b, nil)
		_, _ = fs.firstChild(1, 0, b)
	})
}

func FuzzShortform(f *testing.F) {
	loadSeeds(f)
	f.Add(seed(f, "sfdir-v5.bin"), seed(f, "sfattr-v5.bin"))
	f.Fuzz(func(t *testing.T, dir, attr []byte) {
		fs := fuzzFS(t, "sb-v5.bin", dir)
		_, _ = fs.shortformDir(&inode{ino: 1, dataFork: dir, size: uint64(len(dir))})
		as, _ := shortformAttrs(1, attr)
		for _, a := range as {
			_ = xattrName(a)
		}
	})
}

func FuzzACL(f *testing.F) {
	f.Add(seed(f, "acl-v5.bin"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = aclToXattr(b)
	})
}

func FuzzLog(f *testing.F) {
	loadSeeds(f)
	f.Add(seed(f, "logrec-v5.bin"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fs := fuzzFS(t, "sb-v5.bin", b)
		_, _ = fs.logDirty()
	})
}
