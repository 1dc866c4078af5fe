package export

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/klauspost/compress/zlib"
)

// streamOptimized VMDK written here (VMware's Virtual Disk Format 1.1,
// "Stream-Optimized Compressed Sparse Extents"): the header (gdOffset
// GD_AT_END) and embedded descriptor in the first 64 KiB, then the
// zlib-compressed grains of 64 KiB in disk order, each grain table after
// its grains, the grain directory, the footer (the header with gdOffset
// set) and the end-of-stream marker. A grain of zeros is not written.
const (
	vmdkGrainSectors = 128
	vmdkGrain        = vmdkGrainSectors * sectorSize
	vmdkGTEntries    = 512
	vmdkOverhead     = 128 // sectors before the first grain
	vmdkMaxSize      = 2 << 40
	vmdkBatch        = 64 // grains compressed by one worker at a time
)

const (
	vmdkMarkerGT     = 1
	vmdkMarkerGD     = 2
	vmdkMarkerFooter = 3
)

func writeVMDK(ctx context.Context, s *sink, src Source, o Options) error {
	size := src.Size()
	if err := needSectors("VMDK", size); err != nil {
		return err
	}
	if size > vmdkMaxSize {
		return fmt.Errorf("a streamOptimized VMDK holds at most 2 TiB; this disk has %d bytes", size)
	}
	grains := (size + vmdkGrain - 1) / vmdkGrain
	w := &vmdkWriter{s: s, size: size, gts: max(1, (grains+vmdkGTEntries-1)/vmdkGTEntries)}
	w.gd = make([]uint32, w.gts)
	w.gt = make([]uint32, vmdkGTEntries)
	w.curGT = -1
	if err := w.head(o.Name); err != nil {
		return err
	}
	z := newCompressor(size, w.grain)
	err := streamUnits(ctx, src, vmdkGrain, nil, z.add)
	if err := z.close(err); err != nil {
		return err
	}
	return w.tail()
}

// vmdkWriter lays out the file; compressed grains arrive in order.
type vmdkWriter struct {
	s      *sink
	size   int64
	gts    int64    // grain tables of the disk
	gd     []uint32 // sector of each grain table, 0 if none
	gt     []uint32 // the grain table being filled
	curGT  int64    // index of gt, -1 before the first grain
	header []byte
}

func (w *vmdkWriter) sector() int64 { return w.s.off / sectorSize }

func (w *vmdkWriter) head(name string) error {
	desc := vmdkDescriptor(w.size, name)
	descSectors := (int64(len(desc)) + sectorSize - 1) / sectorSize
	w.header = vmdkHeader(w.size, descSectors)
	b := make([]byte, vmdkOverhead*sectorSize)
	copy(b, w.header)
	copy(b[sectorSize:], desc)
	return w.s.Write(b)
}

// grain writes one compressed grain (marker and data, sector-padded).
func (w *vmdkWriter) grain(g int64, z []byte) error {
	if t := g / vmdkGTEntries; t != w.curGT {
		if err := w.flushGT(); err != nil {
			return err
		}
		w.curGT = t
	}
	sec := w.sector()
	if sec > 1<<32-1 {
		return fmt.Errorf("VMDK file grows past 2 TiB at grain %d", g)
	}
	w.gt[g%vmdkGTEntries] = uint32(sec)
	return w.s.Write(z)
}

// flushGT writes the grain table being filled, if any.
func (w *vmdkWriter) flushGT() error {
	if w.curGT < 0 {
		return nil
	}
	b := make([]byte, vmdkGTEntries*4)
	for i, v := range w.gt {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	sec, err := w.meta(vmdkMarkerGT, b)
	w.gd[w.curGT] = uint32(sec)
	clear(w.gt)
	w.curGT = -1
	return err
}

// meta writes a metadata marker and its sector-padded data; it returns
// the data's first sector.
func (w *vmdkWriter) meta(typ uint32, data []byte) (int64, error) {
	n := (int64(len(data)) + sectorSize - 1) / sectorSize
	b := make([]byte, (1+n)*sectorSize)
	binary.LittleEndian.PutUint64(b, uint64(n))
	binary.LittleEndian.PutUint32(b[12:], typ)
	copy(b[sectorSize:], data)
	sec := w.sector() + 1
	return sec, w.s.Write(b)
}

// tail writes the last grain table, the directory, footer and end of stream.
func (w *vmdkWriter) tail() error {
	if err := w.flushGT(); err != nil {
		return err
	}
	b := make([]byte, len(w.gd)*4)
	for i, v := range w.gd {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	gdSec, err := w.meta(vmdkMarkerGD, b)
	if err != nil {
		return err
	}
	footer := bytes.Clone(w.header)
	binary.LittleEndian.PutUint64(footer[56:], uint64(gdSec))
	if _, err := w.meta(vmdkMarkerFooter, footer); err != nil {
		return err
	}
	return w.s.Write(make([]byte, sectorSize)) // end-of-stream marker
}

// vmdkHeader is the SparseExtentHeader of the file.
func vmdkHeader(size, descSectors int64) []byte {
	b := make([]byte, sectorSize)
	le := binary.LittleEndian
	copy(b, "KDMV")
	le.PutUint32(b[4:], 3)                        // version
	le.PutUint32(b[8:], 1|1<<16|1<<17)            // valid newline test, compressed grains, markers
	le.PutUint64(b[12:], uint64(size/sectorSize)) // capacity
	le.PutUint64(b[20:], vmdkGrainSectors)
	le.PutUint64(b[28:], 1) // descriptor offset
	le.PutUint64(b[36:], uint64(descSectors))
	le.PutUint32(b[44:], vmdkGTEntries)
	le.PutUint64(b[56:], ^uint64(0)) // GD_AT_END: see the footer
	le.PutUint64(b[64:], vmdkOverhead)
	copy(b[73:], "\n \r\n")
	le.PutUint16(b[77:], 1) // deflate
	return b
}

// vmdkDescriptor is the embedded descriptor, with the disk database
// entries VMware's own open-vmdk writes for OVF import.
func vmdkDescriptor(size int64, name string) []byte {
	var cid [4]byte
	rand.Read(cid[:])
	long := make([]byte, 16)
	rand.Read(long)
	sectors := size / sectorSize
	cyl := min((sectors+255*63-1)/(255*63), 65535)
	return fmt.Appendf(nil, `# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=%08x
parentCID=ffffffff
createType="streamOptimized"

# Extent description
RW %d SPARSE "%s"

# The Disk Data Base
#DDB

ddb.longContentID = "%x"
ddb.virtualHWVersion = "4"
ddb.geometry.cylinders = "%d"
ddb.geometry.heads = "255"
ddb.geometry.sectors = "63"
ddb.adapterType = "lsilogic"
ddb.toolsVersion = "2147483647"
`, binary.BigEndian.Uint32(cid[:]), sectors, safeName(name)+".vmdk", long, cyl)
}

// safeName keeps the letters, digits, '-', '_' and '.' of a disk name
// (all a catalog disk name may hold) for the descriptor's quoted string.
func safeName(s string) string {
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			return c
		}
		return '_'
	}, s)
}

// compressor deflates grains on all cores and hands them to out in order.
type compressor struct {
	size   int64 // the disk's
	out    func(g int64, z []byte) error
	batch  *vmdkBatchJob
	slots  chan chan *vmdkBatchJob
	sem    chan struct{}
	failed chan struct{} // closed when out fails
	done   chan error    // out's error, once slots is closed and drained
}

// errOutput stops the stream when out has failed; close returns out's error.
var errOutput = errors.New("output failed")

type vmdkBatchJob struct {
	size  int64    // the disk's
	first []int64  // grain numbers
	raw   []byte   // the grains, back to back
	z     [][]byte // compressed, marker included
	err   error
}

func newCompressor(size int64, out func(int64, []byte) error) *compressor {
	c := &compressor{size: size, out: out, slots: make(chan chan *vmdkBatchJob, 2*runtime.GOMAXPROCS(0)),
		sem: make(chan struct{}, runtime.GOMAXPROCS(0)), failed: make(chan struct{}), done: make(chan error, 1)}
	go c.writer()
	return c
}

// add queues grain g; zero grains are dropped.
func (c *compressor) add(g int64, b []byte) error {
	if allZero(b) {
		return nil
	}
	if c.batch == nil {
		c.batch = &vmdkBatchJob{size: c.size, raw: make([]byte, 0, vmdkBatch*vmdkGrain)}
	}
	c.batch.first = append(c.batch.first, g)
	c.batch.raw = append(c.batch.raw, b...)
	if len(c.batch.first) == vmdkBatch {
		return c.send()
	}
	return nil
}

func (c *compressor) send() error {
	j := c.batch
	c.batch = nil
	ch := make(chan *vmdkBatchJob, 1)
	select {
	case c.slots <- ch:
	case <-c.failed:
		return errOutput
	}
	c.sem <- struct{}{}
	go func() {
		defer func() { <-c.sem }()
		j.compress()
		ch <- j
	}()
	return nil
}

func (c *compressor) writer() {
	var err error
	for ch := range c.slots {
		j := <-ch
		if err != nil {
			continue // drain
		}
		if err = j.err; err != nil {
			close(c.failed)
			continue
		}
		for i, g := range j.first {
			if err = c.out(g, j.z[i]); err != nil {
				close(c.failed)
				break
			}
		}
	}
	c.done <- err
}

// close sends the last batch and waits for the writer; err is the
// stream's own error, which wins.
func (c *compressor) close(err error) error {
	if err == nil && c.batch != nil {
		err = c.send()
	}
	close(c.slots)
	werr := <-c.done
	if err != nil && err != errOutput {
		return err
	}
	return werr
}

// compress deflates the batch's grains into one buffer (each grain's
// marker, stream and padding back to back) that j.z slices.
func (j *vmdkBatchJob) compress() {
	out := bytes.NewBuffer(make([]byte, 0, len(j.raw)+len(j.first)*2*sectorSize))
	zw, _ := zlib.NewWriterLevel(out, zlib.BestSpeed)
	ends := make([]int, len(j.first))
	var marker [12]byte
	for i, g := range j.first {
		start := out.Len()
		out.Write(marker[:]) // grain marker: LBA, size
		zw.Reset(out)
		// The last grain holds only the disk's bytes, as VMware's
		// open-vmdk writes it.
		n := min(vmdkGrain, j.size-g*vmdkGrain)
		zw.Write(j.raw[i*vmdkGrain : int64(i)*vmdkGrain+n])
		if j.err = zw.Close(); j.err != nil {
			return
		}
		zl := out.Len() - start - len(marker)
		out.Write(zeroBuf[:(sectorSize-(out.Len()-start)%sectorSize)%sectorSize])
		ends[i] = out.Len()
		b := out.Bytes()[start:]
		binary.LittleEndian.PutUint64(b, uint64(g*vmdkGrainSectors))
		binary.LittleEndian.PutUint32(b[8:], uint32(zl))
	}
	b, start := out.Bytes(), 0
	for _, end := range ends {
		j.z = append(j.z, b[start:end:end])
		start = end
	}
}
