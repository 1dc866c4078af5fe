package vmdk

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// readFooter reads the footer marker, footer header and end-of-stream
// marker that close a stream-optimized extent.
func readFooter(src vdisk.Source, name string) (SparseExtentHeader, error) {
	off := src.Size() - 3*SectorSize
	if off < SectorSize {
		return SparseExtentHeader{}, vdisk.Corruptf("vmdk %q: stream-optimized file of %d bytes has no room for its footer", name, src.Size())
	}
	var b [3 * SectorSize]byte
	if err := vdisk.ReadFull(src, b[:], off, fmt.Sprintf("vmdk %q: footer", name)); err != nil {
		return SparseExtentHeader{}, err
	}
	if m := parseMarker(b[:]); m.Type != markerFooter || m.Size != 0 {
		return SparseExtentHeader{}, vdisk.Corruptf("vmdk %q: marker at offset %d has type %d size %d, expected a footer marker (type %d) — truncated stream?", name, off, m.Type, m.Size, markerFooter)
	}
	if m := parseMarker(b[2*SectorSize:]); m.Type != markerEOS || m.Size != 0 || m.NumSectors != 0 {
		return SparseExtentHeader{}, vdisk.Corruptf("vmdk %q: marker at offset %d is not end-of-stream", name, off+2*SectorSize)
	}
	h := parseSparseHeader(b[SectorSize:])
	if h.Magic != sparseMagic || h.GDOffset == gdAtEnd {
		return h, vdisk.Corruptf("vmdk %q: footer at offset %d: magic %#08x gdOffset %#x, expected KDMV and a grain directory", name, off+SectorSize, h.Magic, h.GDOffset)
	}
	return h, nil
}

// readCompressed inflates grain g (entry gte) and copies the part starting
// at in. Whole grains inflate straight into p.
func (e *sparseExtent) readCompressed(p []byte, g int64, gte uint32, in int64) error {
	want := min(e.grainBytes, e.capacity-g*e.grainBytes)
	dst := p
	if in != 0 || int64(len(p)) != want {
		buf := e.grains.Get()
		defer e.grains.Put(buf)
		dst = (*buf)[:want]
	}
	if err := e.inflateGrain(dst, g, gte); err != nil {
		return err
	}
	if &dst[0] != &p[0] {
		copy(p, dst[in:])
	}
	return nil
}

// inflateGrain decompresses grain g stored at sector gte into dst, which
// must be filled exactly.
func (e *sparseExtent) inflateGrain(dst []byte, g int64, gte uint32) error {
	off := int64(gte) * SectorSize
	fsize := e.src.Size()
	if off+grainMarkerSize > fsize {
		return vdisk.Corruptf("vmdk %q: compressed grain %d at sector %d lies past the end of the file (%d bytes)", e.name, g, gte, fsize)
	}
	var hb [grainMarkerSize]byte
	if err := vdisk.ReadFull(e.src, hb[:], off, fmt.Sprintf("vmdk %q: grain marker", e.name)); err != nil {
		return err
	}
	m := parseGrainMarker(hb[:])
	if m.LBA != uint64(g)*e.hdr.GrainSize {
		return vdisk.Corruptf("vmdk %q: grain marker at offset %d has LBA %d, expected %d for grain %d", e.name, off, m.LBA, uint64(g)*e.hdr.GrainSize, g)
	}
	if int64(m.Size) > fsize-off-grainMarkerSize || int64(m.Size) > 2*e.grainBytes+4096 {
		return vdisk.Corruptf("vmdk %q: compressed grain %d at offset %d claims %d bytes; file is %d bytes, grain %d", e.name, g, off, m.Size, fsize, e.grainBytes)
	}
	zbuf := e.grains.Get()
	defer e.grains.Put(zbuf)
	z := *zbuf
	if int64(m.Size) > int64(len(z)) {
		z = make([]byte, m.Size) // incompressible grain grew slightly
	}
	z = z[:m.Size]
	if err := vdisk.ReadFull(e.src, z, off+grainMarkerSize, fmt.Sprintf("vmdk %q: compressed grain", e.name)); err != nil {
		return err
	}
	if err := inflate(dst, z, int(e.grainBytes)-len(dst)); err != nil {
		return vdisk.Corruptf("vmdk %q: compressed grain %d at offset %d (%d bytes): %v", e.name, g, off, m.Size, err)
	}
	return nil
}

// inflate decompresses the zlib stream z into len(dst) bytes, allowing
// slack more bytes after them.
func inflate(dst, z []byte, slack int) error {
	zr, err := decompressor(z)
	if err != nil {
		return err
	}
	if _, err := io.ReadFull(zr, dst); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("inflates to fewer than the %d bytes of a grain", len(dst))
		}
		return err
	}
	// Reaching the end makes a zlib reader check the Adler-32 it has been
	// computing anyway. A tail grain may have been stored whole.
	n, err := io.Copy(io.Discard, io.LimitReader(zr, int64(slack)+1))
	if err != nil {
		return err
	}
	if n > int64(slack) {
		return fmt.Errorf("inflates to more than the %d bytes of a grain", len(dst)+slack)
	}
	return nil
}

// Pools of readers implementing zlib.Resetter and flate.Resetter.
var zlibReaders, flateReaders sync.Pool

// decompressor returns a pooled reader of z: zlib (RFC 1950, what VMware
// and qemu write) when z starts with a zlib header, raw deflate otherwise.
// The reader returns to its pool when it reaches EOF or fails; one that is
// abandoned is left to the garbage collector.
func decompressor(z []byte) (io.Reader, error) {
	br := bytes.NewReader(z)
	if !zlibHeader(z) {
		fr, _ := flateReaders.Get().(io.ReadCloser)
		if fr == nil {
			fr = flate.NewReader(br)
		} else if err := fr.(flate.Resetter).Reset(br, nil); err != nil {
			return nil, err
		}
		return &pooled{fr, &flateReaders}, nil
	}
	zr, _ := zlibReaders.Get().(io.ReadCloser)
	if zr == nil {
		var err error
		if zr, err = zlib.NewReader(br); err != nil {
			return nil, err
		}
	} else if err := zr.(zlib.Resetter).Reset(br, nil); err != nil {
		return nil, err
	}
	return &pooled{zr, &zlibReaders}, nil
}

// zlibHeader reports whether z starts with a valid zlib header: deflate
// method, window at most 32 KiB, no preset dictionary, check bits right.
func zlibHeader(z []byte) bool {
	return len(z) >= 2 && z[0]&0x0f == 8 && z[0]>>4 <= 7 && z[1]&0x20 == 0 &&
		(uint16(z[0])<<8|uint16(z[1]))%31 == 0
}

// pooled puts its reader back into its pool once it is done with.
type pooled struct {
	r    io.ReadCloser
	pool *sync.Pool
}

func (p *pooled) Read(b []byte) (int, error) {
	if p.r == nil {
		return 0, io.EOF
	}
	n, err := p.r.Read(b)
	if err != nil {
		p.pool.Put(p.r)
		p.r = nil
	}
	return n, err
}
