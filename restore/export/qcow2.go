package export

import (
	"context"
	"encoding/binary"
	"fmt"
)

// qcow2 layout written here (QEMU's docs/interop/qcow2.txt, version 3):
// 64 KiB clusters, 16-bit refcounts, no snapshots, no backing file. In
// file order: the header cluster, the refcount table, the refcount
// blocks, the L1 table, the L2 tables that map something, then the data
// clusters in disk order. A cluster the map leaves all hole is
// unallocated (L2 entry 0, reads as zeros).
const (
	qcowClusterBits = 16
	qcowCluster     = 1 << qcowClusterBits
	qcowL2Entries   = qcowCluster / 8 // entries per L2 table
	qcowRefEntries  = qcowCluster / 2 // 16-bit refcounts per block
	qcowCopied      = 1 << 63         // refcount is exactly one
	qcowHeaderLen   = 104
)

// qcowLayout places every structure, in clusters from the file's start.
type qcowLayout struct {
	size               int64
	l1Entries          int64
	rt, rb, l1, l2, dt int64 // first cluster of each part
	rtN, rbN, l1N, l2N int64 // clusters of each part
	total              int64 // clusters in the file
}

func planQcow2(size int64, a *alloc) qcowLayout {
	l := qcowLayout{size: size}
	l.l1Entries = (a.n + qcowL2Entries - 1) / qcowL2Entries
	l.l1N = max(1, (l.l1Entries*8+qcowCluster-1)/qcowCluster)
	for i := int64(0); i < l.l1Entries; i++ {
		if a.countIn(i*qcowL2Entries, min(a.n, (i+1)*qcowL2Entries)) > 0 {
			l.l2N++
		}
	}
	fixed := 1 + l.l1N + l.l2N + a.count
	for {
		total := fixed + l.rbN + l.rtN
		rb := (total + qcowRefEntries - 1) / qcowRefEntries
		rt := (rb*8 + qcowCluster - 1) / qcowCluster
		if rb == l.rbN && rt == l.rtN {
			l.total = total
			break
		}
		l.rbN, l.rtN = rb, rt
	}
	l.rt = 1
	l.rb = l.rt + l.rtN
	l.l1 = l.rb + l.rbN
	l.l2 = l.l1 + l.l1N
	l.dt = l.l2 + l.l2N
	return l
}

func writeQcow2(ctx context.Context, s *sink, src Source, _ Options) error {
	a, err := layout(ctx, src, qcowCluster)
	if err != nil {
		return err
	}
	l := planQcow2(src.Size(), a)
	if err := l.writeMeta(s, a); err != nil {
		return err
	}
	return streamUnits(ctx, src, qcowCluster, a.has, func(_ int64, b []byte) error {
		return s.Write(b)
	})
}

// writeMeta writes every cluster before the data.
func (l qcowLayout) writeMeta(s *sink, a *alloc) error {
	be := binary.BigEndian
	c := make([]byte, qcowCluster)
	h := c[:qcowHeaderLen]
	copy(h, "QFI\xfb")
	be.PutUint32(h[4:], 3)
	be.PutUint32(h[20:], qcowClusterBits)
	be.PutUint64(h[24:], uint64(l.size))
	be.PutUint32(h[36:], uint32(l.l1Entries))
	be.PutUint64(h[40:], uint64(l.l1*qcowCluster))
	be.PutUint64(h[48:], uint64(l.rt*qcowCluster))
	be.PutUint32(h[56:], uint32(l.rtN))
	be.PutUint32(h[96:], 4) // refcount_order: 16-bit
	be.PutUint32(h[100:], qcowHeaderLen)
	// A header extension list of just its end marker follows: zeros.
	if err := s.Write(c); err != nil {
		return err
	}
	t := newTable(s, 8)
	for i := range l.rtN * qcowCluster / 8 {
		var v uint64
		if i < l.rbN {
			v = uint64((l.rb + i) * qcowCluster)
		}
		if err := t.put(v); err != nil {
			return err
		}
	}
	t = newTable(s, 2)
	for i := range l.rbN * qcowRefEntries {
		if err := t.put(b2u(i < l.total)); err != nil {
			return err
		}
	}
	return l.writeL1L2(s, a)
}

// writeL1L2 writes the L1 table, then the L2 tables it points to.
func (l qcowLayout) writeL1L2(s *sink, a *alloc) error {
	t := newTable(s, 8)
	next := l.l2
	for i := range l.l1N * qcowCluster / 8 {
		var v uint64
		if i < l.l1Entries && a.countIn(i*qcowL2Entries, min(a.n, (i+1)*qcowL2Entries)) > 0 {
			v = uint64(next*qcowCluster) | qcowCopied
			next++
		}
		if err := t.put(v); err != nil {
			return err
		}
	}
	if next != l.dt {
		return fmt.Errorf("qcow2 layout: %d L2 tables placed, %d planned", next-l.l2, l.l2N)
	}
	data := l.dt
	for i := range l.l1Entries {
		from, to := i*qcowL2Entries, min(a.n, (i+1)*qcowL2Entries)
		if a.countIn(from, to) == 0 {
			continue
		}
		for u := from; u < from+qcowL2Entries; u++ {
			var v uint64
			if u < to && a.has(u) {
				v = uint64(data*qcowCluster) | qcowCopied
				data++
			}
			if err := t.put(v); err != nil {
				return err
			}
		}
	}
	return nil
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// table writes big-endian entries of width bytes through a buffer.
type table struct {
	s     *sink
	width int
	buf   []byte
}

func newTable(s *sink, width int) *table {
	return &table{s: s, width: width, buf: make([]byte, 0, qcowCluster)}
}

func (t *table) put(v uint64) error {
	switch t.width {
	case 2:
		t.buf = binary.BigEndian.AppendUint16(t.buf, uint16(v))
	case 8:
		t.buf = binary.BigEndian.AppendUint64(t.buf, v)
	}
	if len(t.buf) < cap(t.buf) {
		return nil
	}
	err := t.s.Write(t.buf)
	t.buf = t.buf[:0]
	return err
}
