package ntfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// FS is an open NTFS volume. It is safe for concurrent use.
type FS struct {
	r    io.ReaderAt
	size int64
	opts Options
	boot bootSector

	clusterSize    int64
	recordSize     int64
	indexBlockSize int64
	mft            *stream // $MFT unnamed $DATA
	mftRecords     int64
	upcase         []uint16
	info           VolumeInfo

	inodes *lru[uint64, *inode]
	blocks *lru[blockKey, []indexEntry] // decoded index blocks
	damage damageLog                    // entries left out as damaged (damage.go)

	// stats count index work, for tests and benchmarks.
	stats struct {
		indexNodes atomic.Int64 // index blocks visited (cached or not)
		indexReads atomic.Int64 // index blocks read from the volume
	}

	secureOnce sync.Once // loads secure
	secure     *inode
	secureErr  error
}

// Open reads the boot sector, $MFT, $UpCase and $Volume of the volume in r
// (size bytes). opts may be nil.
func Open(r io.ReaderAt, size int64, opts *Options) (*FS, error) {
	fs := &FS{r: r, size: size}
	if opts != nil {
		fs.opts = *opts
	}
	if fs.opts.CacheBytes <= 0 {
		fs.opts.CacheBytes = DefaultCacheBytes
	}
	fs.inodes = newLRU[uint64](fs.opts.CacheBytes/2, fs.inodeCost)
	fs.blocks = newLRU[blockKey](fs.opts.CacheBytes/2, fs.blockCost)
	b := make([]byte, 512)
	if err := fs.readVolume(b, 0); err != nil {
		return nil, fmt.Errorf("read boot sector: %w", err)
	}
	bs, err := decodeBootSector(b)
	if err != nil {
		return nil, err
	}
	fs.boot, fs.clusterSize, fs.recordSize, fs.indexBlockSize = bs, bs.ClusterSize, bs.RecordSize, bs.IndexBlockSize
	if vol := bs.TotalSectors * int64(bs.BytesPerSector); vol > size {
		return nil, fmt.Errorf("boot sector: volume of %d bytes but device has %d: %w", vol, size, ErrCorrupt)
	}
	if err := fs.loadMFT(); err != nil {
		return nil, err
	}
	if err := fs.loadUpcase(); err != nil {
		return nil, err
	}
	if err := fs.loadVolumeInfo(); err != nil {
		return nil, err
	}
	return fs, nil
}

// DefaultCacheBytes bounds the parsed MFT records and index blocks one
// volume keeps when Options.CacheBytes is 0; half goes to each.
const DefaultCacheBytes = 1 << 20

// inodeCost estimates the bytes a parsed inode holds: its base record
// buffer, attribute structs and runlists, and resident values (counted
// again even when they lie in the base record: an overestimate).
func (fs *FS) inodeCost(n *inode) int64 {
	c := fs.recordSize + 128
	for _, a := range n.Attrs {
		c += 160 + 24*int64(len(a.Runs)) + int64(len(a.Name)) + int64(len(a.Value))
	}
	return c
}

// blockCost estimates the bytes of a decoded index block: the block
// buffer (keys point into it) and the entry slice.
func (fs *FS) blockCost(es []indexEntry) int64 {
	return fs.indexBlockSize + 80*int64(cap(es))
}

// readVolume reads len(p) bytes at volume offset off.
func (fs *FS) readVolume(p []byte, off int64) error {
	if off < 0 || off > fs.size || int64(len(p)) > fs.size-off {
		return fmt.Errorf("%w: read of %d bytes at volume offset %d past the end (%d bytes)", ErrCorrupt, len(p), off, fs.size)
	}
	n, err := fs.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %d bytes at volume offset %d: %w", len(p), off, err)
}

// loadMFT bootstraps the $MFT stream from record 0, following its
// attribute list (a heavily fragmented $MFT) through the part of $MFT
// already mapped.
func (fs *FS) loadMFT() error {
	b := make([]byte, fs.recordSize)
	if err := fs.readVolume(b, fs.boot.MFTLCN*fs.clusterSize); err != nil {
		return fmt.Errorf("read $MFT record 0: %w", err)
	}
	if err := applyFixups(b, "FILE"); err != nil {
		return fmt.Errorf("$MFT record 0: %w", err)
	}
	h, attrs, err := decodeRecord(b, 0)
	if err != nil {
		return err
	}
	if h.Flags&recInUse == 0 {
		return fmt.Errorf("$MFT record 0: %w", corruptf("not in use"))
	}
	var data *attribute
	for _, a := range attrs {
		if a.Type == atData && a.Name == "" && !a.Resident && a.LowVCN == 0 {
			data = a
		}
	}
	if data == nil {
		return fmt.Errorf("$MFT record 0: %w", corruptf("no non-resident $DATA starting at VCN 0"))
	}
	fs.setMFT(data)
	full, err := fs.expandAttrList(0, attrs, fs.loadRecord)
	if err != nil {
		return fmt.Errorf("$MFT: %w", err)
	}
	merged, err := mergePieces(full)
	if err != nil {
		return fmt.Errorf("$MFT: %w", err)
	}
	for _, a := range merged {
		if a.Type == atData && a.Name == "" {
			fs.setMFT(a)
		}
	}
	return nil
}

func (fs *FS) setMFT(a *attribute) {
	fs.mft = newStream(fs, a, "$MFT")
	fs.mftRecords = a.InitSize / fs.recordSize
	if max := (a.HighVCN + 1) * fs.clusterSize / fs.recordSize; fs.mftRecords > max {
		fs.mftRecords = max
	}
}

// loadUpcase reads the $UpCase table (65536 UTF-16 code units).
func (fs *FS) loadUpcase() error {
	n, err := fs.inode(recordUpCase)
	if err != nil {
		return fmt.Errorf("$UpCase: %w", err)
	}
	a := n.find(atData, "")
	if a == nil {
		return fmt.Errorf("$UpCase: %w", corruptf("no $DATA"))
	}
	b, err := fs.attrValue(a, "$UpCase", 128<<10)
	if err != nil {
		return fmt.Errorf("$UpCase: %w", err)
	}
	fs.upcase = decodeUTF16(b)
	return nil
}

// loadVolumeInfo reads the label and flags from $Volume.
func (fs *FS) loadVolumeInfo() error {
	fs.info = VolumeInfo{
		Serial:         fs.boot.Serial,
		SerialString:   fmt.Sprintf("%04X-%04X", uint32(fs.boot.Serial)>>16, uint32(fs.boot.Serial)&0xffff),
		ClusterSize:    fs.clusterSize,
		RecordSize:     fs.recordSize,
		IndexBlockSize: fs.indexBlockSize,
		TotalBytes:     fs.boot.TotalSectors * int64(fs.boot.BytesPerSector),
	}
	n, err := fs.inode(recordVolume)
	if err != nil {
		return fmt.Errorf("$Volume: %w", err)
	}
	if a := n.find(atVolumeName, ""); a != nil && a.Resident {
		fs.info.Label = decodeName(a.Value)
	}
	if a := n.find(atVolumeInformation, ""); a != nil && a.Resident && len(a.Value) >= 12 {
		fs.info.Version = fmt.Sprintf("%d.%d", a.Value[8], a.Value[9])
		fs.info.VolumeFlags = binary.LittleEndian.Uint16(a.Value[10:])
		// VOLUME_IS_DIRTY; also VOLUME_MODIFIED_BY_CHKDSK-era repair flags.
		fs.info.Dirty = fs.info.VolumeFlags&0x0001 != 0
	}
	return nil
}

// Info describes the volume.
func (fs *FS) Info() VolumeInfo { return fs.info }

// Root returns the inode number of the root directory (MFT record 5).
func (fs *FS) Root() uint64 { return recordRoot }
