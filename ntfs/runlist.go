package ntfs

// run maps Length clusters starting at VCN to clusters starting at LCN;
// LCN is -1 for a sparse run (mapping pairs in layout.h).
type run struct {
	VCN, LCN, Length int64
}

const sparseLCN = -1

// maxRuns bounds the runs decoded from one mapping-pairs array.
const maxRuns = 1 << 20

// decodeRunlist decodes a mapping-pairs array starting at startVCN.
func decodeRunlist(b []byte, startVCN int64) ([]run, error) {
	var runs []run
	vcn, lcn := startVCN, int64(0)
	for i := 0; ; {
		if i >= len(b) {
			return nil, corruptf("runlist: no terminator within %d bytes", len(b))
		}
		hdr := b[i]
		if hdr == 0 {
			return runs, nil
		}
		lenSize, offSize := int(hdr&0x0f), int(hdr>>4)
		if lenSize == 0 || lenSize > 8 || offSize > 8 {
			return nil, corruptf("runlist: header byte 0x%02x at offset %d", hdr, i)
		}
		if i+1+lenSize+offSize > len(b) {
			return nil, corruptf("runlist: run at offset %d overruns %d bytes", i, len(b))
		}
		length := signedLE(b[i+1 : i+1+lenSize])
		if length <= 0 {
			return nil, corruptf("runlist: run length %d at offset %d", length, i)
		}
		r := run{VCN: vcn, LCN: sparseLCN, Length: length}
		if offSize > 0 {
			delta := signedLE(b[i+1+lenSize : i+1+lenSize+offSize])
			lcn += delta
			if lcn < 0 {
				return nil, corruptf("runlist: negative LCN %d at offset %d", lcn, i)
			}
			r.LCN = lcn
		}
		if vcn+length < vcn || len(runs) >= maxRuns {
			return nil, corruptf("runlist: too long at offset %d", i)
		}
		runs = append(runs, r)
		vcn += length
		i += 1 + lenSize + offSize
	}
}

// signedLE decodes a little-endian two's-complement integer of 1-8 bytes.
func signedLE(b []byte) int64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	shift := uint(64 - 8*len(b))
	return int64(v<<shift) >> shift
}
