package xfs

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Remote symlink blocks carry xfs_dsymlink_hdr on v5: magic "XSLM",
// offset, bytes, crc, uuid, owner, blkno, lsn (56 bytes).
const (
	symlinkMagic  = 0x58534C4D
	symlinkHdr    = 56
	symlinkCRCOff = 12
	symlinkMaxLen = 1024 // XFS_SYMLINK_MAXLEN
	rmtOwnerOff   = 32
)

// Readlink returns the target of symlink ino.
func (fs *FS) Readlink(ino uint64) (string, error) {
	in, err := fs.inode(ino)
	if err != nil {
		return "", err
	}
	if in.fileType() != sIFLNK {
		return "", fmt.Errorf("inode %d: not a symlink", ino)
	}
	if in.size == 0 || in.size > symlinkMaxLen {
		return "", corruptf("symlink %d: target of %d bytes", ino, in.size)
	}
	n := int(in.size)
	var t []byte
	if in.format == fmtLocal {
		if n > len(in.dataFork) {
			return "", corruptf("symlink %d: %d bytes in a %d-byte fork", ino, n, len(in.dataFork))
		}
		t = in.dataFork[:n]
	} else if t, err = fs.remoteSymlink(in, n); err != nil {
		return "", err
	}
	s := string(t)
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s, nil
}

func (fs *FS) remoteSymlink(in *inode, n int) ([]byte, error) {
	runs, err := fs.forkRuns(in, in.dataFork, in.format, in.nextents, "data")
	if err != nil {
		return nil, fmt.Errorf("symlink %d: %w", in.ino, err)
	}
	bs := int(fs.sb.blockSize)
	per := bs
	if fs.sb.v5() {
		per = bs - symlinkHdr
	}
	nblk := uint64((n + per - 1) / per)
	raw, err := fs.readFork(runs, 0, nblk, fmt.Sprintf("symlink %d", in.ino))
	if err != nil {
		return nil, err
	}
	if !fs.sb.v5() {
		return raw[:n], nil
	}
	out := make([]byte, 0, n)
	for i := 0; i < int(nblk); i++ {
		b := raw[i*bs : (i+1)*bs]
		if err := fs.remoteHdr(b, symlinkMagic, symlinkCRCOff, rmtOwnerOff, in.ino, fmt.Sprintf("symlink %d block %d", in.ino, i)); err != nil {
			return nil, err
		}
		off, cnt := int(binary.BigEndian.Uint32(b[4:])), int(binary.BigEndian.Uint32(b[8:]))
		if off != len(out) || cnt > per || cnt > n-len(out) {
			return nil, corruptf("symlink %d block %d: holds %d bytes at %d, expected at %d", in.ino, i, cnt, off, len(out))
		}
		out = append(out, b[symlinkHdr:symlinkHdr+cnt]...)
	}
	if len(out) != n {
		return nil, corruptf("symlink %d: %d of %d bytes in its blocks", in.ino, len(out), n)
	}
	return out, nil
}

// remoteHdr checks the magic, checksum and owner of a v5 remote block
// (symlink or attribute value).
func (fs *FS) remoteHdr(b []byte, magic uint32, crcOff, ownerOff int, owner uint64, what string) error {
	if m := binary.BigEndian.Uint32(b); m != magic {
		return corruptf("%s: magic %#08x", what, m)
	}
	if err := fs.checkMeta(b, crcOff, what); err != nil {
		return err
	}
	if o := binary.BigEndian.Uint64(b[ownerOff:]); o != owner {
		return corruptf("%s: owner %d", what, o)
	}
	return nil
}
