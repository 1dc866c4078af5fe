package ext4

import "encoding/binary"

// direntHeaderSize is the fixed part of struct ext4_dir_entry_2.
const direntHeaderSize = 8

// direntTailSize is the size of struct ext4_dir_entry_tail, the checksum
// pseudo-entry at the end of a leaf block with metadata_csum.
const direntTailSize = 12

// direntTailFileType marks the tail (EXT4_FT_DIR_CSUM).
const direntTailFileType = 0xDE

// Directory entry file types (ext4_dir_entry_2.file_type).
var direntFileTypeMode = [8]uint32{0, sIFREG, sIFDIR, sIFCHR, sIFBLK, sIFIFO, sIFSOCK, sIFLNK}

// dirent mirrors struct ext4_dir_entry_2.
type dirent struct {
	inode    uint32 // inode number, 0 for an unused entry
	recLen   int    // rec_len: bytes to the next entry
	nameLen  int    // name_len
	fileType uint8  // file_type (with the filetype feature)
	name     []byte // aliases the block
}

// parseDirent decodes the entry at off in a directory block b, checking
// that it fits. blockSize is needed for the 64 KiB rec_len encoding.
func parseDirent(b []byte, off int, filetype bool) (dirent, error) {
	if off < 0 || off+direntHeaderSize > len(b) {
		return dirent{}, corruptf("directory entry at offset %d overruns %d-byte block", off, len(b))
	}
	le := binary.LittleEndian
	d := dirent{inode: le.Uint32(b[off:]), recLen: int(le.Uint16(b[off+4:])), nameLen: int(b[off+6]), fileType: b[off+7]}
	if !filetype {
		// Without the filetype feature name_len is 16 bits.
		d.nameLen |= int(b[off+7]) << 8
		d.fileType = 0
	}
	if len(b) >= 65536 && (d.recLen == 65535 || d.recLen == 0) {
		d.recLen = 65536 // ext4_rec_len_from_disk
	}
	if d.recLen < direntHeaderSize || d.recLen%4 != 0 || off+d.recLen > len(b) {
		return d, corruptf("directory entry at offset %d: rec_len %d (block %d bytes)", off, d.recLen, len(b))
	}
	if direntHeaderSize+d.nameLen > d.recLen {
		return d, corruptf("directory entry at offset %d: name_len %d exceeds rec_len %d", off, d.nameLen, d.recLen)
	}
	d.name = b[off+direntHeaderSize : off+direntHeaderSize+d.nameLen]
	return d, nil
}

// isDirentTail reports whether b ends with a checksum tail.
func isDirentTail(b []byte) bool {
	if len(b) < direntTailSize {
		return false
	}
	t := b[len(b)-direntTailSize:]
	le := binary.LittleEndian
	return le.Uint32(t[0:]) == 0 && le.Uint16(t[4:]) == direntTailSize && t[6] == 0 && t[7] == direntTailFileType
}
