package qcow2

// L1 and L2 table entries (qcow2.txt "Cluster mapping"), big-endian uint64.
const (
	entryOffsetMask = 0x00fffffffffffe00 // bits 9-55: host offset
	entryCopied     = 1 << 63
	l2Compressed    = 1 << 62
	l2Zero          = 1 << 0 // v3: cluster reads as zeros
)

// Extended L2 entries add a second uint64: bits 0-31 say subcluster i is
// allocated, bits 32-63 say it reads as zeros.
const subclusters = 32

// compressedSpan decodes the host byte offset and the stored length of a
// compressed cluster's descriptor.
func compressedSpan(entry uint64, clusterBits uint32) (off, n int64) {
	shift := 62 - (clusterBits - 8)
	off = int64(entry & (1<<shift - 1))
	sectors := int64((entry>>shift)&(1<<(clusterBits-8)-1)) + 1
	return off, sectors*512 - off&511
}
