package ext4

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"testing"
)

func tinyImage(tb testing.TB, name string) []byte {
	tb.Helper()
	f, err := os.Open("testdata/" + name + ".img.gz")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func tinyFS(tb testing.TB, name string, opts *Options) (*FS, []byte) {
	img := tinyImage(tb, name)
	fs, err := Open(bytes.NewReader(img), int64(len(img)), opts)
	if err != nil {
		tb.Fatal(err)
	}
	return fs, img
}

// rawInode returns the on-disk bytes of inode ino of an image.
func rawInode(fs *FS, img []byte, ino uint64) []byte {
	g := (ino - 1) / uint64(fs.sb.inodesPerGroup)
	idx := (ino - 1) % uint64(fs.sb.inodesPerGroup)
	off := int64(fs.groups[g].inodeTable)*fs.bs + int64(idx)*int64(fs.sb.inodeSize)
	return img[off : off+int64(fs.sb.inodeSize)]
}

func FuzzSuperblock(f *testing.F) {
	for _, n := range []string{"tiny", "tiny2", "tiny3"} {
		f.Add(tinyImage(f, n)[superblockOffset : superblockOffset+superblockSize])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sb, err := parseSuperblock(b)
		if err != nil {
			return
		}
		_ = sb.checkFeatures()
		_ = sb.groupCount()
		_ = sb.fsType()
		_ = superblockCsum(b)
	})
}

func FuzzGroupDesc(f *testing.F) {
	fs, img := tinyFS(f, "tiny", nil)
	blk := fs.descBlock(0)
	f.Add(img[int64(blk)*fs.bs:int64(blk)*fs.bs+64], true)
	fs2, img2 := tinyFS(f, "tiny2", nil)
	blk = fs2.descBlock(0)
	f.Add(img2[int64(blk)*fs2.bs:int64(blk)*fs2.bs+32], false)
	f.Fuzz(func(t *testing.T, b []byte, is64 bool) {
		if len(b) < 32 {
			return
		}
		gd := parseGroupDesc(b, is64)
		_ = fs.groupDescCsum(0, b)
		_ = gd
	})
}

func FuzzInode(f *testing.F) {
	fs, img := tinyFS(f, "tiny", nil)
	for ino := uint64(1); ino <= 16; ino++ {
		f.Add(append([]byte(nil), rawInode(fs, img, ino)...))
	}
	// A symlink whose i_size runs past its target, a size with the top bit.
	dmg, dimg := tinyFS(f, "damaged", nil)
	for _, name := range []string{"link", "neg"} {
		e, err := dmg.Lookup(RootIno, name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte(nil), rawInode(dmg, dimg, e.Ino)...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := parseInode(b)
		if err != nil {
			return
		}
		_ = in.blocks512(fs.sb)
		_ = in.rdev()
		_ = fs.isFastSymlink(in)
		if srcs, err := fs.xattrSources(99, in); err == nil {
			for _, s := range srcs {
				for _, e := range s.entries {
					_, _ = fs.xattrValue(99, s, e)
				}
			}
		}
		fl, err := fs.openInode(99, in)
		if err == nil {
			_, _ = fl.ReadAt(make([]byte, 100), 0)
			_, _ = fl.Extents()
		}
	})
}

func FuzzExtentTree(f *testing.F) {
	fs, img := tinyFS(f, "tiny", &Options{IgnoreChecksums: true})
	for ino := uint64(12); ino <= 16; ino++ {
		f.Add(append([]byte(nil), rawInode(fs, img, ino)[0x28:0x28+iBlockSize]...))
	}
	f.Fuzz(func(t *testing.T, node []byte) {
		w := extentWalker{fs: fs, ino: 12, seen: map[uint64]bool{}}
		var runs []run
		_ = w.walk(node, -1, 0, 1<<32, &runs)
		in := &inode{size: 1 << 40}
		copy(in.block[:], node)
		m := blockMapper{fs: fs, ino: 12, limit: 1 << 28, seen: map[uint64]bool{}}
		_ = m.walk(in.block[:], &runs)
	})
}

func FuzzDirBlock(f *testing.F) {
	fs, img := tinyFS(f, "tiny", nil)
	f.Add(img[int64(fs.bs)*int64(mustBlock(f, fs, RootIno)):][:fs.bs])
	bad, badImg := tinyFS(f, "damaged", nil)
	d, err := bad.Lookup(RootIno, "d")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(badImg[int64(bad.bs)*int64(mustBlock(f, bad, d.Ino)):][:bad.bs]) // four damaged entries
	f.Add(bytes.Repeat([]byte{0}, 1024))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = fs.scanBlock(b, dirLoc{RootIno, 0}, func(d dirent) bool { return false })
		_ = isDirentTail(b)
		if off, ok := dxCountOffset(b, 0); ok {
			_ = dxCsumVerify(b, off, 0)
		}
		if _, err := parseDxRootInfo(b); err == nil {
			_, _, _ = parseDxEntries(b, dxRootEntriesOffset, true)
		}
		_, _, _ = parseDxEntries(b, dxNodeEntriesOffset, false)
		_, _, _ = dirHash(b, uint8(len(b)%7), [4]uint32{})
	})
}

func mustBlock(tb testing.TB, fs *FS, ino uint64) uint64 {
	fl, err := fs.Open(ino)
	if err != nil {
		tb.Fatal(err)
	}
	ext, err := fl.Extents()
	if err != nil || len(ext) == 0 {
		tb.Fatal(err)
	}
	return uint64(ext[0].Physical / fs.bs)
}

func FuzzXattr(f *testing.F) {
	fs, img := tinyFS(f, "tiny", nil)
	x, _ := fs.Lookup(RootIno, "x")
	raw := rawInode(fs, img, x.Ino)
	f.Add(append([]byte(nil), raw[goodOldInodeSize+32+4:]...))
	acl := []byte{1, 0, 0, 0, 1, 0, 6, 0, 2, 0, 7, 0, 0xd2, 4, 0, 0, 4, 0, 4, 0, 0x10, 0, 7, 0, 0x20, 0, 4, 0}
	f.Add(acl)
	f.Fuzz(func(t *testing.T, b []byte) {
		if es, err := parseXattrEntries(b); err == nil {
			for _, e := range es {
				_ = e.fullName()
				_, _ = xattrValue(b, e)
			}
		}
		_, _ = ext4ACLToXattr(b)
	})
}

// FuzzImage flips bytes of a tiny image (sel: the image, and bit 7 to
// ignore checksums; 3-byte records: little-endian offset in units of 4
// bytes, xor value) and walks everything, deleted inodes included.
func FuzzImage(f *testing.F) {
	imgs := [][]byte{tinyImage(f, "tiny"), tinyImage(f, "tiny2"), tinyImage(f, "tiny3"), tinyImage(f, "damaged"), tinyImage(f, "deleted")}
	for i := range uint8(len(imgs)) {
		f.Add(i, []byte{})
	}
	f.Add(uint8(0x82), []byte{0x10, 0x01, 0xff})
	f.Add(uint8(0x80), []byte{0x40, 0x10, 0x80, 0x00, 0x02, 0x01})
	f.Fuzz(func(t *testing.T, sel uint8, patch []byte) {
		img := append([]byte(nil), imgs[int(sel&0x7f)%len(imgs)]...)
		for i := 0; i+3 <= len(patch); i += 3 {
			off := int(binary.LittleEndian.Uint16(patch[i:])) * 4 % len(img)
			img[off] ^= patch[i+2]
		}
		fs, err := Open(bytes.NewReader(img), int64(len(img)), &Options{IgnoreChecksums: sel&0x80 != 0})
		if err != nil {
			return
		}
		_ = fs.Info()
		_, _ = fs.Allocation()
		walkAll(fs, RootIno, 0)
		_ = fs.Damage()
		readDeleted(fs)
	})
}

// readDeleted lists and reads every deleted inode, a MiB at most each.
func readDeleted(fs *FS) {
	ds, _ := fs.DeletedInodes()
	for _, d := range ds {
		if fl, err := fs.OpenDeleted(d.Attr.Ino); err == nil {
			_, _ = io.ReadAll(io.NewSectionReader(fl, 0, min(fl.Size(), 1<<20)))
		}
	}
}

// walkAll touches every API on every reachable inode, with bounds.
func walkAll(fs *FS, dir uint64, depth int) {
	if depth > 8 {
		return
	}
	ents, err := fs.ReadDir(dir)
	if err != nil {
		return
	}
	for i, e := range ents {
		if i > 64 {
			return
		}
		_, _ = fs.Lookup(dir, e.Name)
		_, _ = fs.Stat(e.Ino)
		if names, err := fs.ListXattr(e.Ino); err == nil {
			for _, n := range names {
				_, _ = fs.GetXattr(e.Ino, n)
			}
		}
		switch e.Mode {
		case sIFDIR:
			walkAll(fs, e.Ino, depth+1)
		case sIFLNK:
			_, _ = fs.Readlink(e.Ino)
		default:
			if fl, err := fs.Open(e.Ino); err == nil {
				_, _ = fl.Extents()
				buf := make([]byte, 4096)
				for off := int64(0); off < min(fl.Size(), 1<<20); off += 4096 {
					if _, err := fl.ReadAt(buf, off); err != nil && err != io.EOF {
						break
					}
				}
			}
		}
	}
}

// TestTinyImages checks the committed fixtures still read as expected.
func TestTinyImages(t *testing.T) {
	for _, n := range []string{"tiny", "tiny2", "tiny3"} {
		fs, _ := tinyFS(t, n, nil)
		d, err := fs.Lookup(RootIno, "d")
		if err != nil {
			t.Fatal(err)
		}
		e, err := fs.Lookup(d.Ino, "big")
		if err != nil {
			t.Fatal(err)
		}
		fl, _ := fs.Open(e.Ino)
		b := make([]byte, fl.Size())
		fl.ReadAt(b, 0)
		var want bytes.Buffer
		for i := 1; i <= 4000; i++ {
			want.WriteString(itoa(i) + "\n")
		}
		if !bytes.Equal(b, want.Bytes()) {
			t.Errorf("%s: d/big differs from seq 1 4000", n)
		}
	}
}

func itoa(i int) string {
	var b [20]byte
	p := len(b)
	for ; i > 0; i /= 10 {
		p--
		b[p] = byte('0' + i%10)
	}
	return string(b[p:])
}
