package qcow2

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// BackingOpener opens the backing file an image names (as written in the
// image) with the format of its backing-format extension ("" to probe).
type BackingOpener func(name, format string) (vdisk.Disk, error)

// Limits that keep a hostile header from asking for absurd work.
const (
	minClusterBits = 9
	maxClusterBits = 21       // 2 MiB, as QEMU
	maxL1Bytes     = 32 << 20 // QCOW_MAX_L1_SIZE
	maxBackingName = 1023     // as QEMU
	l2CacheBytes   = 32 << 20 // decoded L2 tables kept per image

	// As QEMU: refcounts of up to 64 bits, QCOW_MAX_REFTABLE_SIZE,
	// QCOW_MAX_SNAPSHOTS.
	maxRefcountOrder = 6
	maxRefcountTable = 8 << 20
	maxSnapshots     = 65536
)

// Disk is an opened qcow2 image. Everything but the caches is fixed after
// Open, so reads are safe for concurrent use.
type Disk struct {
	name        string
	src         vdisk.SourceCloser
	hdr         Header
	size        int64
	clusterBits uint32
	clusterSize int64
	extL2       bool  // 16-byte L2 entries with subcluster bitmaps
	l2Entries   int64 // entries per L2 table
	l1          []uint64
	backing     vdisk.Disk // nil without a backing file
	backingName string

	l2cache  *vdisk.LRU[int64, []uint64] // by host offset of the table
	clusters *vdisk.BufPool              // clusterSize: inflated clusters
	zbufs    *vdisk.BufPool              // 2*clusterSize: compressed input
}

var _ vdisk.Disk = (*Disk)(nil)

// Open reads the qcow2 image in src, named name in errors. openBacking is
// called for a backing file; nil refuses images that have one. On success
// the Disk owns src.
func Open(src vdisk.SourceCloser, name string, openBacking BackingOpener) (*Disk, error) {
	d := &Disk{name: name, src: src}
	h, err := d.readHeader()
	if err != nil {
		return nil, err
	}
	d.hdr = h
	if err := d.checkHeader(); err != nil {
		return nil, err
	}
	d.size = int64(h.Size)
	d.clusterBits = h.ClusterBits
	d.clusterSize = 1 << h.ClusterBits
	d.extL2 = h.IncompatibleFeatures&incompatExtendedL2 != 0
	d.l2Entries = d.clusterSize / 8
	if d.extL2 {
		d.l2Entries = d.clusterSize / 16
	}
	backingFormat, err := d.readExtensions()
	if err != nil {
		return nil, err
	}
	if err := d.readL1(); err != nil {
		return nil, err
	}
	if err := d.openBacking(backingFormat, openBacking); err != nil {
		return nil, err
	}
	d.l2cache = vdisk.NewLRU[int64, []uint64](max(16, int(l2CacheBytes/d.clusterSize)))
	d.clusters = vdisk.NewBufPool(int(d.clusterSize))
	d.zbufs = vdisk.NewBufPool(int(2 * d.clusterSize))
	return d, nil
}

func (d *Disk) readHeader() (Header, error) {
	var b [headerV3Len + 8]byte // zero padding stands in for absent v3 fields
	n := min(int64(len(b)), d.src.Size())
	if n < headerV2Len {
		return Header{}, vdisk.Corruptf("qcow2 %q: file of %d bytes is shorter than a header (%d)", d.name, d.src.Size(), headerV2Len)
	}
	if err := vdisk.ReadFull(d.src, b[:n], 0, fmt.Sprintf("qcow2 %q: header", d.name)); err != nil {
		return Header{}, err
	}
	h := parseHeader(b[:])
	if h.Magic != magic {
		return h, vdisk.Corruptf("qcow2 %q: magic %#08x at offset 0, expected %#08x (QFI\\xfb)", d.name, h.Magic, magic)
	}
	return h, nil
}

func (d *Disk) checkHeader() error {
	h := d.hdr
	switch {
	case h.Version != 2 && h.Version != 3:
		return vdisk.Unsupportedf("qcow2 %q: version %d, only 2 and 3 are read", d.name, h.Version)
	case h.ClusterBits < minClusterBits || h.ClusterBits > maxClusterBits:
		return vdisk.Corruptf("qcow2 %q: cluster_bits %d at offset 20, expected %d to %d", d.name, h.ClusterBits, minClusterBits, maxClusterBits)
	case h.Version == 3 && (h.HeaderLength < headerV3Len || h.HeaderLength%8 != 0 || h.HeaderLength > 1<<h.ClusterBits):
		return vdisk.Corruptf("qcow2 %q: header_length %d at offset 100, expected a multiple of 8 from %d to the cluster size", d.name, h.HeaderLength, headerV3Len)
	case h.Size > vdisk.MaxSize:
		return vdisk.Corruptf("qcow2 %q: virtual size %d at offset 24, expected at most %d", d.name, h.Size, int64(vdisk.MaxSize))
	case h.CryptMethod != 0:
		return vdisk.Unsupportedf("qcow2 %q: encrypted image (crypt_method %d: %s); decrypt it with qemu-img convert first", d.name, h.CryptMethod, cryptName(h.CryptMethod))
	case h.IncompatibleFeatures&^incompatKnown != 0:
		return vdisk.Unsupportedf("qcow2 %q: unknown incompatible feature bits %#x", d.name, h.IncompatibleFeatures&^incompatKnown)
	case h.IncompatibleFeatures&incompatExternalData != 0:
		return vdisk.Unsupportedf("qcow2 %q: external data file", d.name)
	case h.IncompatibleFeatures&incompatCompression != 0 && h.CompressionType != compressionZlib:
		if h.CompressionType == compressionZstd {
			return vdisk.Unsupportedf("qcow2 %q: zstd-compressed clusters (compression_type 1); recompress with qemu-img convert -o compression_type=zlib", d.name)
		}
		return vdisk.Unsupportedf("qcow2 %q: compression_type %d", d.name, h.CompressionType)
	case h.IncompatibleFeatures&incompatExtendedL2 != 0 && h.ClusterBits < 14:
		return vdisk.Corruptf("qcow2 %q: extended L2 entries need clusters of 16 KiB or more, cluster_bits is %d", d.name, h.ClusterBits)
	case h.CompressionType > compressionZstd:
		return vdisk.Unsupportedf("qcow2 %q: compression_type %d at offset 104", d.name, h.CompressionType)
	case h.CompressionType != compressionZlib && h.IncompatibleFeatures&incompatCompression == 0:
		return vdisk.Corruptf("qcow2 %q: compression_type %d at offset 104 without the compression-type incompatible feature bit", d.name, h.CompressionType)
	}
	return d.checkTables()
}

// checkTables refuses table fields qemu refuses, though a reader needs
// only the L1 table: an image qemu cannot open is damaged, and reading it
// anyway would hide that.
func (d *Disk) checkTables() error {
	h := d.hdr
	cluster := uint64(1) << h.ClusterBits
	switch {
	case uint64(h.L1Size) > maxL1Bytes/8:
		return vdisk.Corruptf("qcow2 %q: l1_size %d at offset 36, expected at most %d entries", d.name, h.L1Size, maxL1Bytes/8)
	case h.RefcountOrder > maxRefcountOrder:
		return vdisk.Corruptf("qcow2 %q: refcount_order %d at offset 96, expected at most %d", d.name, h.RefcountOrder, maxRefcountOrder)
	case h.RefcountTableClusters == 0 || uint64(h.RefcountTableClusters) > maxRefcountTable>>h.ClusterBits:
		return vdisk.Corruptf("qcow2 %q: refcount_table_clusters %d at offset 56, expected 1 to %d", d.name, h.RefcountTableClusters, maxRefcountTable>>h.ClusterBits)
	case h.RefcountTableOffset%cluster != 0:
		return vdisk.Corruptf("qcow2 %q: refcount_table_offset %#x at offset 48 is not cluster-aligned", d.name, h.RefcountTableOffset)
	case h.NbSnapshots > maxSnapshots:
		return vdisk.Corruptf("qcow2 %q: nb_snapshots %d at offset 60, expected at most %d", d.name, h.NbSnapshots, maxSnapshots)
	case h.SnapshotsOffset%cluster != 0:
		return vdisk.Corruptf("qcow2 %q: snapshots_offset %#x at offset 64 is not cluster-aligned", d.name, h.SnapshotsOffset)
	}
	return nil
}

func cryptName(m uint32) string {
	switch m {
	case 1:
		return "AES"
	case 2:
		return "LUKS"
	}
	return "unknown"
}

// readExtensions reads the header extensions and the backing file name,
// all of which live in the first cluster.
func (d *Disk) readExtensions() (backingFormat string, err error) {
	h := d.hdr
	first := make([]byte, min(d.clusterSize, d.src.Size()))
	if err := vdisk.ReadFull(d.src, first, 0, fmt.Sprintf("qcow2 %q: header cluster", d.name)); err != nil {
		return "", err
	}
	if int64(h.HeaderLength) > int64(len(first)) {
		return "", vdisk.Corruptf("qcow2 %q: header_length %d exceeds the %d-byte file", d.name, h.HeaderLength, len(first))
	}
	exts, ok := parseExtensions(first[h.HeaderLength:])
	if !ok {
		return "", vdisk.Corruptf("qcow2 %q: header extension after offset %d runs past the first cluster", d.name, h.HeaderLength)
	}
	for _, e := range exts {
		switch e.Type {
		case extBackingFormat:
			backingFormat = string(e.Data)
		case extEncryption:
			return "", vdisk.Unsupportedf("qcow2 %q: full disk encryption header", d.name)
		case extExternalData:
			return "", vdisk.Unsupportedf("qcow2 %q: external data file %q", d.name, e.Data)
		}
	}
	if h.BackingFileOffset == 0 {
		return backingFormat, nil
	}
	if h.BackingFileSize == 0 || h.BackingFileSize > maxBackingName ||
		h.BackingFileOffset > uint64(len(first)) || uint64(h.BackingFileSize) > uint64(len(first))-h.BackingFileOffset {
		return "", vdisk.Corruptf("qcow2 %q: backing file name of %d bytes at offset %d, expected 1 to %d bytes inside the first cluster (%d bytes)",
			d.name, h.BackingFileSize, h.BackingFileOffset, maxBackingName, len(first))
	}
	d.backingName = string(first[h.BackingFileOffset : h.BackingFileOffset+uint64(h.BackingFileSize)])
	return backingFormat, nil
}

// readL1 loads the L1 entries that cover the virtual size.
func (d *Disk) readL1() error {
	h := d.hdr
	covers := d.l2Entries * d.clusterSize
	need := (d.size + covers - 1) / covers
	if int64(h.L1Size) < need {
		return vdisk.Corruptf("qcow2 %q: l1_size %d at offset 36 is too small for a virtual size of %d bytes, expected at least %d", d.name, h.L1Size, d.size, need)
	}
	if need*8 > maxL1Bytes {
		return vdisk.Unsupportedf("qcow2 %q: L1 table of %d entries exceeds %d bytes", d.name, need, maxL1Bytes)
	}
	if need == 0 {
		return nil
	}
	off := h.L1TableOffset
	if off%uint64(d.clusterSize) != 0 || off == 0 || off > uint64(d.src.Size()) || uint64(need*8) > uint64(d.src.Size())-off {
		return vdisk.Corruptf("qcow2 %q: L1 table of %d entries at offset %#x, expected a nonzero cluster-aligned table inside the %d-byte file", d.name, need, off, d.src.Size())
	}
	b := make([]byte, need*8)
	if err := vdisk.ReadFull(d.src, b, int64(off), fmt.Sprintf("qcow2 %q: L1 table", d.name)); err != nil {
		return err
	}
	d.l1 = decodeTable(b)
	masked := make([]uint64, len(d.l1))
	for i, e := range d.l1 {
		masked[i] = e & entryOffsetMask
	}
	if i, j, dup := vdisk.FirstDuplicate(masked); dup {
		return vdisk.Corruptf("qcow2 %q: L1 entries %d and %d both point to the L2 table at %#x", d.name, i, j, masked[i])
	}
	return nil
}

func decodeTable(b []byte) []uint64 {
	t := make([]uint64, len(b)/8)
	for i := range t {
		t[i] = binary.BigEndian.Uint64(b[8*i:])
	}
	return t
}

func (d *Disk) openBacking(format string, open BackingOpener) error {
	if d.backingName == "" {
		return nil
	}
	if strings.HasPrefix(d.backingName, "json:") {
		return vdisk.Unsupportedf("qcow2 %q: backing file given as a json: specification", d.name)
	}
	if open == nil {
		return vdisk.Unsupportedf("qcow2 %q: has backing file %q but no way to open it here", d.name, d.backingName)
	}
	b, err := open(d.backingName, format)
	if err != nil {
		return fmt.Errorf("qcow2 %q: backing file %q: %w", d.name, d.backingName, err)
	}
	d.backing = b
	return nil
}

// Format is "qcow2".
func (d *Disk) Format() string { return "qcow2" }

// Size is the virtual size in bytes.
func (d *Disk) Size() int64 { return d.size }

// Backing is the opened backing disk, or nil.
func (d *Disk) Backing() vdisk.Disk { return d.backing }

// Close closes the image and its backing chain.
func (d *Disk) Close() error {
	var errs []error
	if d.backing != nil {
		errs = append(errs, d.backing.Close())
	}
	errs = append(errs, d.src.Close())
	return errors.Join(errs...)
}
