package ext4

import (
	"bytes"
	"fmt"
)

// Readlink returns the target of symlink ino: a fast symlink stored in
// i_block, an inline_data symlink, or a slow symlink in a data block. Like
// Linux and fuse2fs, the target ends at its first NUL byte, whatever
// i_size says.
func (fs *FS) Readlink(ino uint64) (string, error) {
	in, err := fs.inode(ino)
	if err != nil {
		return "", err
	}
	if in.fileType() != sIFLNK {
		return "", fmt.Errorf("inode %d: readlink: mode %#o is not a symlink", ino, in.mode)
	}
	if in.flags&inodeFlagEncrypt != 0 {
		return "", encryptedErr(ino)
	}
	if in.size > uint64(fs.bs) {
		return "", fmt.Errorf("inode %d: %w", ino, corruptf("symlink of %d bytes (block size %d)", in.size, fs.bs))
	}
	if fs.isFastSymlink(in) {
		return cutNUL(in.block[:in.size]), nil
	}
	f, err := fs.openInode(ino, in)
	if err != nil {
		return "", err
	}
	b := make([]byte, in.size)
	if _, err := f.ReadAt(b, 0); err != nil && len(b) > 0 {
		return "", fmt.Errorf("inode %d: readlink: %w", ino, err)
	}
	return cutNUL(b), nil
}

// cutNUL returns b up to its first NUL byte, as a C string.
func cutNUL(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// isFastSymlink decides as the kernel's ext4_inode_is_fast_symlink (since
// "ext4: check fast symlink for ea_inode correctly") and e2fsprogs'
// ext2fs_is_fast_symlink do. With ea_inode, a value kept in an EA inode is
// charged to the symlink's i_blocks, so only the size can tell: a non-empty
// target shorter than i_block is fast. Without it, a fast symlink owns no
// block but its xattr block, and is not inline data.
func (fs *FS) isFastSymlink(in *inode) bool {
	if in.fileType() != sIFLNK {
		return false
	}
	if fs.sb.featureIncompat&incompatEAInode != 0 {
		return in.size != 0 && in.size < iBlockSize
	}
	if in.flags&inodeFlagInlineData != 0 || in.size >= iBlockSize {
		return false
	}
	ea := uint64(0)
	if in.fileACL != 0 {
		ea = uint64(fs.bs) * uint64(fs.sb.clusterRatio()) / 512
	}
	return in.blocks512(fs.sb) <= ea
}
