package xfs

import (
	"encoding/binary"
	"fmt"
)

// The internal log is a ring of 512-byte basic blocks. Each written block
// starts with the cycle number of the pass that wrote it, except a log
// record header (xlog_rec_header: magic, cycle, version, len, lsn,
// tail_lsn, crc, prev_block, num_logops, ...), whose cycle is its second
// word. A clean log ends with an unmount record: one log operation whose
// xlog_op_header has XLOG_UNMOUNT_TRANS set.
const (
	logMagic        = 0xFEEDBABE
	logUnmountTrans = 0x20
	// A record is at most 256 KiB of data (XLOG_MAX_RECORD_BSIZE) plus its
	// header, so the last header is within this many basic blocks.
	logMaxBackScan = 2048
)

type logReader struct {
	fs   *FS
	off  int64 // volume offset of the log
	nbbs int64 // its length in basic blocks
}

// logDirty reports whether the internal log holds transactions after its
// last unmount record, as the kernel's head search (xlog_find_head) and
// xlog_check_unmount_rec would find.
func (fs *FS) logDirty() (bool, error) {
	sb := fs.sb
	if sb.logStart == 0 {
		return false, fmt.Errorf("the log is on an external device")
	}
	off, err := fs.fsbOffset(sb.logStart, uint64(sb.logBlocks))
	if err != nil {
		return false, fmt.Errorf("log: %w", err)
	}
	lr := logReader{fs: fs, off: off, nbbs: int64(sb.logBlocks) << sb.blockLog >> 9}
	if lr.nbbs < 2 {
		return false, corruptf("log of %d blocks", sb.logBlocks)
	}
	head, err := lr.head()
	if err != nil {
		return false, err
	}
	return lr.dirtyAt(head)
}

// bb reads basic block i of the log and returns it with its cycle.
func (lr *logReader) bb(i int64) ([]byte, uint32, error) {
	i = (i%lr.nbbs + lr.nbbs) % lr.nbbs
	b, err := lr.fs.readBytes(lr.off+i*512, 512)
	if err != nil {
		return nil, 0, fmt.Errorf("log block %d: %w", i, err)
	}
	be := binary.BigEndian
	if be.Uint32(b) == logMagic {
		return b, be.Uint32(b[4:]), nil
	}
	return b, be.Uint32(b), nil
}

// head finds the first block not written in the last pass: the first
// whose cycle differs from block 0's, by binary search (0 when every
// block has the same cycle: the last pass ended at the end of the log).
func (lr *logReader) head() (int64, error) {
	_, first, err := lr.bb(0)
	if err != nil {
		return 0, err
	}
	_, last, err := lr.bb(lr.nbbs - 1)
	if err != nil || first == last {
		return 0, err
	}
	lo, hi := int64(0), lr.nbbs-1 // cycle(lo) == first, cycle(hi) != first
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		_, c, err := lr.bb(mid)
		if err != nil {
			return 0, err
		}
		if c == first {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}

// dirtyAt looks back from head for the last record header and reports
// whether it is anything but a lone unmount record.
func (lr *logReader) dirtyAt(head int64) (bool, error) {
	be := binary.BigEndian
	for i := int64(1); i <= min(lr.nbbs, logMaxBackScan); i++ {
		b, _, err := lr.bb(head - i)
		if err != nil {
			return false, err
		}
		if be.Uint32(b) != logMagic {
			continue
		}
		hdrBBs := int64(1)
		if be.Uint32(b[8:])&2 != 0 { // XLOG_VERSION_2: h_size says the header size
			if sz := int64(be.Uint32(b[320:])); sz > 32768 {
				hdrBBs = (sz + 32767) / 32768
			}
		}
		if be.Uint32(b[40:]) != 1 {
			return true, nil
		}
		op, _, err := lr.bb(head - i + hdrBBs)
		if err != nil {
			return false, err
		}
		return op[9]&logUnmountTrans == 0, nil
	}
	return false, corruptf("log: no record header within %d blocks before block %d", logMaxBackScan, head)
}
