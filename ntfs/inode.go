package ntfs

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

// Reparse tags (layout.h, [MS-FSCC] 2.1.2.1).
const (
	tagMountPoint = 0xa0000003
	tagSymlink    = 0xa000000c
	tagWOF        = 0x80000017
	tagDedup      = 0x80000013
	tagHSM        = 0xc0000004
	tagHSM2       = 0x80000006
)

// isCloudTag reports the OneDrive/cloud-files tags (IO_REPARSE_TAG_CLOUD_*).
func isCloudTag(t uint32) bool { return t&0xffff0fff == 0x9000001a }

// Interix special files as ntfs-3g writes them (INTX_FILE in layout.h).
const (
	intxSymlink = "IntxLNK\x01"
	intxChar    = "IntxCHR\x00"
	intxBlock   = "IntxBLK\x00"
)

// stdInfo returns the decoded $STANDARD_INFORMATION of n.
func (n *inode) stdInfo() (stdInfo, error) {
	a := n.find(atStandardInformation, "")
	if a == nil || !a.Resident {
		return stdInfo{}, fmt.Errorf("MFT record %d: %w", n.Num, corruptf("no resident $STANDARD_INFORMATION"))
	}
	s, err := decodeStdInfo(a.Value)
	if err != nil {
		return s, fmt.Errorf("MFT record %d: %w", n.Num, err)
	}
	return s, nil
}

// fileNames returns the decoded $FILE_NAME attributes of n.
func (n *inode) fileNames() []fileName {
	var out []fileName
	for _, a := range n.Attrs {
		if a.Type == atFileName && a.Resident {
			if f, err := decodeFileName(a.Value); err == nil {
				out = append(out, f)
			}
		}
	}
	return out
}

func (n *inode) isDir() bool { return n.Hdr.Flags&recDirectory != 0 }

// reparse returns the reparse tag and raw $REPARSE_POINT value, if any.
func (fs *FS) reparse(n *inode) (uint32, []byte, error) {
	a := n.find(atReparsePoint, "")
	if a == nil {
		return 0, nil, nil
	}
	v, err := fs.attrValue(a, fmt.Sprintf("MFT record %d $REPARSE_POINT", n.Num), 64<<10)
	if err != nil {
		return 0, nil, err
	}
	if len(v) < 8 {
		return 0, nil, fmt.Errorf("MFT record %d: %w", n.Num, corruptf("$REPARSE_POINT of %d bytes", len(v)))
	}
	return binary.LittleEndian.Uint32(v), v, nil
}

// showAsLink says which reparse points appear as symlinks: junctions and
// symlinks, and, as ntfs-3g shows them, files with a tag nobody here
// understands (a symlink to "unsupported reparse tag 0x..."). Directories
// with other tags (cloud-synced folders) stay directories, WOF files and
// cloud or HSM placeholders stay regular files.
func showAsLink(tag uint32, dir bool) bool {
	switch {
	case tag == tagSymlink || tag == tagMountPoint:
		return true
	case dir, tag == tagWOF, tag == tagDedup, tag == tagHSM, tag == tagHSM2, isCloudTag(tag), tag == 0:
		return false
	}
	return true
}

// kind is what an inode looks like to stat(2).
type kind struct {
	mode   uint32 // type bits only
	size   int64
	blocks int64
	rdev   uint64
	link   string // symlink target
}

// kindOf works out type, size and link target the way ntfs-3g does.
func (fs *FS) kindOf(n *inode, si stdInfo) (kind, error) {
	if si.Attributes&faReparse != 0 {
		tag, _, err := fs.reparse(n)
		if err != nil {
			return kind{}, err
		}
		if showAsLink(tag, n.isDir()) {
			target, err := fs.reparseTarget(n)
			if err != nil {
				return kind{}, err
			}
			return kind{mode: sIFLNK, size: int64(len(target)), blocks: dataBlocks(n), link: target}, nil
		}
	}
	if n.isDir() {
		k := kind{mode: sIFDIR}
		if a := n.find(atIndexAllocation, "$I30"); a != nil && !a.Resident {
			k.size, k.blocks = a.DataSize, a.AllocSize>>9
		}
		return k, nil
	}
	k := kind{mode: sIFREG, blocks: dataBlocks(n)}
	a := n.find(atData, "")
	if a != nil {
		k.size = a.size()
	}
	if si.Attributes&faSystem != 0 && a != nil {
		if err := fs.interix(n, a, si, &k); err != nil {
			return kind{}, err
		}
	}
	return k, nil
}

// dataBlocks is st_blocks of the unnamed $DATA as ntfs-3g computes it.
func dataBlocks(n *inode) int64 {
	a := n.find(atData, "")
	switch {
	case a == nil:
		return 0
	case a.Resident:
		return ((int64(len(a.Value))+7)&^7 + 511) >> 9
	default:
		return (a.CompSize + 511) >> 9
	}
}

// interix recognises the FIFOs, sockets, devices and symlinks ntfs-3g
// stores as system files.
func (fs *FS) interix(n *inode, a *attribute, si stdInfo, k *kind) error {
	size := a.size()
	if si.Attributes&faHidden == 0 {
		switch size {
		case 0:
			k.mode = sIFIFO
		case 1:
			k.mode = sIFSOCK
		}
	}
	if size <= 8 || size > 8+2*4096 {
		return nil
	}
	v, err := fs.attrValue(a, fmt.Sprintf("MFT record %d $DATA", n.Num), size)
	if err != nil {
		return err
	}
	switch string(v[:8]) {
	case intxBlock, intxChar:
		if size == 24 {
			k.mode = sIFCHR
			if string(v[:8]) == intxBlock {
				k.mode = sIFBLK
			}
			k.rdev = makedev(binary.LittleEndian.Uint64(v[8:]), binary.LittleEndian.Uint64(v[16:]))
		}
	case intxSymlink:
		k.mode = sIFLNK
		k.link = string(utf16.Decode(decodeUTF16(v[8:])))
		k.size = int64(len(k.link))
	}
	return nil
}

// makedev encodes a Linux device number as glibc's makedev does.
func makedev(major, minor uint64) uint64 {
	return (major&0xfffff000)<<32 | (major&0xfff)<<8 | (minor&0xffffff00)<<12 | minor&0xff
}

// Stat returns the attributes of inode ino.
func (fs *FS) Stat(ino uint64) (Attr, error) {
	n, err := fs.inode(ino)
	if err != nil {
		return Attr{}, err
	}
	return fs.statInode(ino, n)
}

// statInode is Stat of the inode n.
func (fs *FS) statInode(ino uint64, n *inode) (Attr, error) {
	si, err := n.stdInfo()
	if err != nil {
		return Attr{}, err
	}
	k, err := fs.kindOf(n, si)
	if err != nil {
		return Attr{}, err
	}
	at := Attr{
		Ino: ino, Uid: fs.opts.Uid, Gid: fs.opts.Gid,
		Size: k.size, Blocks: k.blocks, Rdev: k.rdev,
		Atime: ntfsTime(si.Access), Mtime: ntfsTime(si.Modification),
		Ctime: ntfsTime(si.MFTChange), Crtime: ntfsTime(si.Creation),
		FileAttributes: si.Attributes, Seq: n.Hdr.Seq,
	}
	switch k.mode {
	case sIFDIR:
		at.Mode = sIFDIR | fs.dirPerm()
		at.Nlink = 1 // like ntfs-3g: find(1) must not count subdirectories
	case sIFLNK:
		at.Mode = sIFLNK | 0o777
		at.Nlink = n.linkCount()
	default:
		at.Mode = k.mode | fs.filePerm()
		at.Nlink = n.linkCount()
	}
	return at, nil
}

// linkCount counts the names that appear in directory listings: every
// $FILE_NAME except DOS-only 8.3 aliases.
func (n *inode) linkCount() uint32 {
	c := uint32(0)
	for _, f := range n.fileNames() {
		if f.Namespace != nsDOS {
			c++
		}
	}
	if c == 0 {
		c = 1
	}
	return c
}

func (fs *FS) filePerm() uint32 {
	if fs.opts.FileMode != 0 {
		return fs.opts.FileMode & 0o7777
	}
	return 0o644
}

func (fs *FS) dirPerm() uint32 {
	if fs.opts.DirMode != 0 {
		return fs.opts.DirMode & 0o7777
	}
	return 0o755
}
