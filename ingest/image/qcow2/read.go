package qcow2

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// kind says where a piece of the virtual disk comes from.
type kind int

const (
	kindUnalloc    kind = iota // backing file, or zeros without one
	kindZero                   // reads as zeros
	kindData                   // plain host cluster
	kindCompressed             // deflate-compressed cluster
)

// mapping locates the virtual bytes [off, off+n) of one cluster or
// subcluster (or of a whole unmapped L2 range).
type mapping struct {
	kind  kind
	n     int64
	host  int64  // kindData: host offset of off
	entry uint64 // kindCompressed: the L2 entry
}

// lookup maps virtual offset off (< size).
func (d *Disk) lookup(off int64) (mapping, error) {
	vc := off >> d.clusterBits
	in := off & (d.clusterSize - 1)
	l1i, l2i := vc/d.l2Entries, vc%d.l2Entries
	table, err := d.l2table(l1i)
	if err != nil {
		return mapping{}, err
	}
	if table == nil {
		covers := d.l2Entries * d.clusterSize
		return mapping{kind: kindUnalloc, n: covers - off%covers}, nil
	}
	return d.entryMapping(table, l2i, vc, in)
}

// entryMapping maps offset in of virtual cluster vc, entry l2i of table.
func (d *Disk) entryMapping(table []uint64, l2i, vc, in int64) (mapping, error) {
	w := int64(1)
	if d.extL2 {
		w = 2
	}
	e := table[l2i*w]
	if e&l2Compressed != 0 {
		return mapping{kind: kindCompressed, n: d.clusterSize - in, entry: e}, nil
	}
	host := int64(e & entryOffsetMask)
	if host&(d.clusterSize-1) != 0 {
		return mapping{}, vdisk.Corruptf("qcow2 %q: L2 entry for cluster %d has unaligned host offset %#x", d.name, vc, host)
	}
	if !d.extL2 {
		return d.plainMapping(e, host, vc, in)
	}
	return d.subclusterMapping(table[l2i*w+1], host, vc, in)
}

func (d *Disk) plainMapping(e uint64, host, vc, in int64) (mapping, error) {
	n := d.clusterSize - in
	switch {
	case e&l2Zero != 0 && d.hdr.Version < 3:
		return mapping{}, vdisk.Corruptf("qcow2 %q: zero flag in the L2 entry of cluster %d of a version 2 image", d.name, vc)
	case e&l2Zero != 0:
		return mapping{kind: kindZero, n: n}, nil
	case host == 0:
		return mapping{kind: kindUnalloc, n: n}, nil
	}
	return mapping{kind: kindData, n: n, host: host + in}, nil
}

// subclusterMapping decodes an extended L2 entry's bitmap.
func (d *Disk) subclusterMapping(bitmap uint64, host, vc, in int64) (mapping, error) {
	scSize := d.clusterSize / subclusters
	sc := in / scSize
	n := scSize - in%scSize
	alloc, zero := bitmap>>sc&1 != 0, bitmap>>(32+sc)&1 != 0
	switch {
	case alloc && zero:
		return mapping{}, vdisk.Corruptf("qcow2 %q: subcluster %d of cluster %d is both allocated and zero", d.name, sc, vc)
	case zero:
		return mapping{kind: kindZero, n: n}, nil
	case !alloc:
		return mapping{kind: kindUnalloc, n: n}, nil
	case host == 0:
		return mapping{}, vdisk.Corruptf("qcow2 %q: subcluster %d of cluster %d is allocated but the cluster has no host offset", d.name, sc, vc)
	}
	return mapping{kind: kindData, n: n, host: host + in}, nil
}

// l2table returns the decoded L2 table of L1 entry i, nil if unallocated.
func (d *Disk) l2table(i int64) ([]uint64, error) {
	off := int64(d.l1[i] & entryOffsetMask)
	if off == 0 {
		return nil, nil
	}
	if t, ok := d.l2cache.Get(off); ok {
		return t, nil
	}
	if off&(d.clusterSize-1) != 0 || off > d.src.Size()-d.clusterSize {
		return nil, vdisk.Corruptf("qcow2 %q: L1 entry %d points to L2 table at %#x, expected a cluster-aligned offset inside the %d-byte file", d.name, i, off, d.src.Size())
	}
	b := make([]byte, d.clusterSize)
	if err := vdisk.ReadFull(d.src, b, off, fmt.Sprintf("qcow2 %q: L2 table %d", d.name, i)); err != nil {
		return nil, err
	}
	t := decodeTable(b)
	d.l2cache.Add(off, t)
	return t, nil
}

// ReadAt reads the virtual disk; it is safe for concurrent use.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	q, eof := vdisk.ClampRead(p, off, d.size)
	if len(q) == 0 {
		return 0, eof
	}
	if err := d.read(q, off); err != nil {
		return 0, err
	}
	return len(q), eof
}

// run gathers neighbouring pieces that one read call can serve: host
// clusters stored back to back, or a stretch of the backing file.
type run struct {
	kind kind
	p    []byte
	off  int64 // host offset (kindData) or virtual offset (kindUnalloc)
}

func (d *Disk) read(p []byte, off int64) error {
	var r run
	for len(p) > 0 {
		m, err := d.lookup(off)
		if err != nil {
			return err
		}
		n := min(int64(len(p)), m.n)
		piece := p[:n]
		from := off
		if m.kind == kindData {
			from = m.host
			if from+n > d.src.Size() {
				return vdisk.Corruptf("qcow2 %q: virtual offset %d maps to host offset %#x, past the end of the %d-byte file", d.name, off, m.host, d.src.Size())
			}
		}
		// p advances by exactly n per piece, so r.p can grow into it.
		if (m.kind == kindData || m.kind == kindUnalloc && d.backing != nil) && r.kind == m.kind && len(r.p) > 0 && r.off+int64(len(r.p)) == from {
			r.p = r.p[:len(r.p)+int(n)]
		} else {
			if err := d.flush(&r); err != nil {
				return err
			}
			switch m.kind {
			case kindData, kindUnalloc:
				r = run{kind: m.kind, p: piece, off: from}
			case kindZero:
				clear(piece)
			case kindCompressed:
				if err := d.readCompressed(piece, m.entry, off); err != nil {
					return err
				}
			}
		}
		p, off = p[n:], off+n
	}
	return d.flush(&r)
}

func (d *Disk) flush(r *run) error {
	if len(r.p) == 0 {
		return nil
	}
	p := r.p
	r.p = nil
	if r.kind == kindData {
		return vdisk.ReadFull(d.src, p, r.off, fmt.Sprintf("qcow2 %q: data cluster", d.name))
	}
	return d.readBacking(p, r.off)
}

// readBacking reads from the backing file; what lies past its end, or
// everything without one, reads as zeros.
func (d *Disk) readBacking(p []byte, off int64) error {
	if d.backing == nil || off >= d.backing.Size() {
		clear(p)
		return nil
	}
	n, err := d.backing.ReadAt(p, off)
	if err != nil && !(errors.Is(err, io.EOF) && off+int64(len(p)) >= d.backing.Size()) {
		return fmt.Errorf("qcow2 %q: backing file %q at %d: %w", d.name, d.backingName, off, err)
	}
	clear(p[n:])
	return nil
}

// readCompressed inflates the cluster of L2 entry e and copies the part
// starting at virtual offset off; a whole cluster inflates straight into p.
func (d *Disk) readCompressed(p []byte, e uint64, off int64) error {
	in := off & (d.clusterSize - 1)
	dst := p
	if in != 0 || int64(len(p)) != d.clusterSize {
		buf := d.clusters.Get()
		defer d.clusters.Put(buf)
		dst = *buf
	}
	coff, clen := compressedSpan(e, d.clusterBits)
	if coff >= d.src.Size() {
		return vdisk.Corruptf("qcow2 %q: compressed cluster at virtual offset %d stored at %#x, past the end of the %d-byte file", d.name, off-in, coff, d.src.Size())
	}
	clen = min(clen, d.src.Size()-coff) // the sector count rounds up past EOF
	zb := d.zbufs.Get()
	defer d.zbufs.Put(zb)
	z := (*zb)[:clen]
	if err := vdisk.ReadFull(d.src, z, coff, fmt.Sprintf("qcow2 %q: compressed cluster", d.name)); err != nil {
		return err
	}
	if err := inflate(dst, z); err != nil {
		return vdisk.Corruptf("qcow2 %q: compressed cluster at virtual offset %d (host %#x, %d bytes): %v", d.name, off-in, coff, clen, err)
	}
	if &dst[0] != &p[0] {
		copy(p, dst[in:])
	}
	return nil
}

var flateReaders sync.Pool // of io.ReadCloser implementing flate.Resetter

// inflate decompresses raw deflate data z into exactly len(dst) bytes.
func inflate(dst, z []byte) error {
	br := bytes.NewReader(z)
	var fr io.ReadCloser
	if v := flateReaders.Get(); v != nil {
		fr = v.(io.ReadCloser)
		if err := fr.(flate.Resetter).Reset(br, nil); err != nil {
			return err
		}
	} else {
		fr = flate.NewReader(br)
	}
	defer flateReaders.Put(fr)
	if _, err := io.ReadFull(fr, dst); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("inflates to fewer than the %d bytes of a cluster", len(dst))
		}
		return err
	}
	return nil
}
