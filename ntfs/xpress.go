package ntfs

import "encoding/binary"

// decompressXpressHuffman decodes one LZ77+Huffman ([MS-XCA] 2.2) buffer of
// at most 64 KiB of output, as WOF stores each XPRESS4K/8K/16K chunk; out
// has exactly the uncompressed length.
func decompressXpressHuffman(out, in []byte) error {
	if len(out) > 65536 {
		return corruptf("XPRESS Huffman: %d-byte output needs several blocks", len(out))
	}
	if len(in) < 256+4 {
		return corruptf("XPRESS Huffman: %d-byte input lacks the 256-byte table", len(in))
	}
	lens := make([]uint8, 512)
	for i := 0; i < 256; i++ {
		lens[2*i], lens[2*i+1] = in[i]&15, in[i]>>4
	}
	h, err := newHuffman(lens, 15)
	if err != nil {
		return corruptf("XPRESS Huffman table: %v", err)
	}
	ip := 256
	read16 := func() uint32 {
		if ip+2 > len(in) {
			ip += 2
			return 0
		}
		v := uint32(binary.LittleEndian.Uint16(in[ip:]))
		ip += 2
		return v
	}
	next := read16()<<16 | read16()
	extra := 16
	refill := func() {
		if extra < 0 {
			next |= read16() << uint(-extra)
			extra += 16
		}
	}
	for op := 0; op < len(out); {
		if ip > len(in)+4 {
			return corruptf("XPRESS Huffman: input exhausted at output %d", op)
		}
		sym, l, ok := h.decode(next>>17, 15)
		if !ok {
			return corruptf("XPRESS Huffman: invalid code at output %d", op)
		}
		next <<= uint(l)
		extra -= l
		refill()
		if sym < 256 {
			out[op] = byte(sym)
			op++
			continue
		}
		sym -= 256
		length, obits := sym&15, sym>>4
		if length == 15 {
			if ip >= len(in) {
				return corruptf("XPRESS Huffman: truncated match length at input %d", ip)
			}
			length = int(in[ip])
			ip++
			if length == 255 {
				if ip+2 > len(in) {
					return corruptf("XPRESS Huffman: truncated match length at input %d", ip)
				}
				length = int(binary.LittleEndian.Uint16(in[ip:]))
				ip += 2
				if length < 15 {
					return corruptf("XPRESS Huffman: match length %d below 15", length)
				}
				length -= 15
			}
			length += 15
		}
		length += 3
		offset := 1 << uint(obits)
		if obits > 0 {
			offset += int(next >> uint(32-obits))
		}
		next <<= uint(obits)
		extra -= obits
		refill()
		if offset > op || length > len(out)-op {
			return corruptf("XPRESS Huffman: match offset %d length %d at output %d of %d", offset, length, op, len(out))
		}
		for k := 0; k < length; k++ {
			out[op+k] = out[op-offset+k]
		}
		op += length
	}
	return nil
}
