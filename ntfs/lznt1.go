package ntfs

import "encoding/binary"

// decompressLZNT1 decompresses an LZNT1 buffer ([MS-XCA] 2.5) into out,
// which holds one compression unit. Every chunk stands for 4096 bytes of
// output: a compressed chunk that ends early is followed by zeros, as in
// ntfs-3g. It returns the bytes produced before the terminating chunk
// header; the rest of out is zeroed.
func decompressLZNT1(out, in []byte) (int, error) {
	const chunk = 4096
	o := 0
	for i := 0; i+2 <= len(in) && o < len(out); {
		hdr := binary.LittleEndian.Uint16(in[i:])
		if hdr == 0 {
			break
		}
		size := int(hdr&0x0fff) + 1
		i += 2
		if i+size > len(in) {
			return o, corruptf("LZNT1: chunk at input offset %d of %d bytes overruns %d-byte input", i-2, size, len(in))
		}
		dst := out[o:min(o+chunk, len(out))]
		src := in[i : i+size]
		if hdr&0x8000 == 0 {
			if len(src) > len(dst) {
				return o, corruptf("LZNT1: raw chunk of %d bytes at input offset %d exceeds %d", len(src), i-2, len(dst))
			}
			n := copy(dst, src)
			clear(dst[n:])
		} else {
			n, err := lznt1Chunk(dst, src)
			if err != nil {
				return o, corruptf("LZNT1: chunk at input offset %d: %v", i-2, err)
			}
			clear(dst[n:])
		}
		o += len(dst)
		i += size
	}
	clear(out[o:])
	return o, nil
}

// lznt1Chunk decompresses one compressed chunk into dst (<= 4096 bytes).
func lznt1Chunk(dst, src []byte) (int, error) {
	o := 0
	for i := 0; i < len(src); {
		flags := src[i]
		i++
		for bit := 0; bit < 8 && i < len(src); bit++ {
			if flags&(1<<bit) == 0 {
				if o >= len(dst) {
					return o, corruptf("literal past %d output bytes", len(dst))
				}
				dst[o] = src[i]
				o, i = o+1, i+1
				continue
			}
			if i+2 > len(src) {
				return o, corruptf("truncated back-reference at %d", i)
			}
			if o == 0 {
				return o, corruptf("back-reference at output start")
			}
			tok := int(binary.LittleEndian.Uint16(src[i:]))
			i += 2
			// The offset field grows as the position in the chunk grows.
			lg := 0
			for p := o - 1; p >= 0x10; p >>= 1 {
				lg++
			}
			back := (tok >> (12 - lg)) + 1
			length := (tok & (0xfff >> lg)) + 3
			if back > o {
				return o, corruptf("back-reference %d before chunk start at output %d", back, o)
			}
			if o+length > len(dst) {
				return o, corruptf("back-reference of %d bytes past %d output bytes", length, len(dst))
			}
			for k := 0; k < length; k++ {
				dst[o+k] = dst[o-back+k]
			}
			o += length
		}
	}
	return o, nil
}
