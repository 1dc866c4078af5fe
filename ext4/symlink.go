package ext4

import "fmt"

// Readlink returns the target of symlink ino: a fast symlink stored in
// i_block, an inline_data symlink, or a slow symlink in a data block.
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
		return string(in.block[:in.size]), nil
	}
	f, err := fs.openInode(ino, in)
	if err != nil {
		return "", err
	}
	b := make([]byte, in.size)
	if _, err := f.ReadAt(b, 0); err != nil && len(b) > 0 {
		return "", fmt.Errorf("inode %d: readlink: %w", ino, err)
	}
	return string(b), nil
}

// isFastSymlink mirrors ext4_inode_is_fast_symlink: no data blocks other
// than an xattr block, and not inline data.
func (fs *FS) isFastSymlink(in *inode) bool {
	if in.flags&inodeFlagInlineData != 0 || in.size >= iBlockSize {
		return false
	}
	ea := uint64(0)
	if in.fileACL != 0 {
		ea = uint64(fs.bs) * uint64(fs.sb.clusterRatio()) / 512
	}
	return in.blocks512(fs.sb) <= ea
}
