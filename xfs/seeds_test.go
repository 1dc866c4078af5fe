package xfs

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteSeeds cuts the fuzz seeds out of build.sh's images when
// XFS_WRITE_SEEDS=1 (see testdata/seeds/README).
func TestWriteSeeds(t *testing.T) {
	if os.Getenv("XFS_WRITE_SEEDS") != "1" {
		t.Skip("set XFS_WRITE_SEEDS=1 to rewrite testdata/seeds")
	}
	dir := filepath.Join("testdata", "seeds")
	os.MkdirAll(dir, 0o755)
	put := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img5, img4 := testImage(t, "v5"), testImage(t, "v4")
	v5, v4 := openImage(t, img5, nil), openImage(t, img4, nil)
	raw := func(fs *FS, off int64, n int) []byte {
		b, err := fs.readBytes(off, n)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ino := func(fs *FS, name string) uint64 {
		e, err := fs.Lookup(fs.Root(), name)
		if err != nil {
			t.Fatal(err)
		}
		return e.Ino
	}
	inodeBytes := func(fs *FS, n uint64) []byte {
		off, _ := fs.inodeOffset(n)
		return raw(fs, off, int(fs.sb.inodeSize))
	}
	firstBlock := func(fs *FS, n uint64, attr bool, lblk uint64) []byte {
		in, _ := fs.inode(n)
		fork, format, cnt := in.dataFork, in.format, in.nextents
		if attr {
			fork, format, cnt = in.attrFork, in.aformat, in.anextents
		}
		runs, err := fs.forkRuns(in, fork, format, cnt, "seed")
		if err != nil {
			t.Fatal(err)
		}
		b, err := fs.readFork(runs, lblk, 1<<fs.sb.dirBlkLog, "seed")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	put("sb-v5.bin", raw(v5, 0, 512))
	put("sb-v4.bin", raw(v4, 0, 512))
	put("inode-root-v5.bin", inodeBytes(v5, v5.Root()))
	put("inode-fragmented-v5.bin", inodeBytes(v5, ino(v5, "fragmented")))
	put("inode-xnode-v5.bin", inodeBytes(v5, ino(v5, "xnode")))
	put("inode-sf-v5.bin", inodeBytes(v5, ino(v5, "sf")))
	put("inode-hello-v4.bin", inodeBytes(v4, ino(v4, "hello.txt")))
	put("dirblock-v5.bin", firstBlock(v5, ino(v5, "block"), false, 0))
	put("dirdata-v5.bin", firstBlock(v5, ino(v5, "leaf"), false, 0))
	put("dirdata-v4.bin", firstBlock(v4, ino(v4, "many"), false, 0))
	put("attrleaf-v5.bin", firstBlock(v5, ino(v5, "xleaf"), true, 0))
	put("attrnode-v5.bin", firstBlock(v5, ino(v5, "xnode"), true, 0))
	sf, _ := v5.inode(ino(v5, "sf"))
	put("sfdir-v5.bin", sf.dataFork[:sf.size])
	hello, _ := v5.inode(ino(v5, "hello.txt"))
	put("sfattr-v5.bin", hello.attrFork[:binary.BigEndian.Uint16(hello.attrFork)])
	acl, _ := v5.attrs(ino(v5, "aclfile"))
	put("acl-v5.bin", acl[0].value)
	logOff, _ := v5.fsbOffset(v5.sb.logStart, 1)
	put("logrec-v5.bin", raw(v5, logOff, 4096))
}
