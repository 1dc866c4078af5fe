package ntfs

import "encoding/binary"

// lzxBits reads LZX's bitstream: 16-bit little-endian words, each read
// from its most significant bit. Past the end it yields zeros, as
// Microsoft's and wimlib's decoders do, but only for a few words.
type lzxBits struct {
	in   []byte
	pos  int    // next byte to load
	buf  uint32 // unread bits, left-aligned
	left uint   // unread bits in buf
	over int    // words supplied past the end
}

// fill makes at least n (<= 17) bits available.
func (b *lzxBits) fill(n uint) bool {
	for b.left < n {
		var w uint32
		if b.pos+2 <= len(b.in) {
			w = uint32(binary.LittleEndian.Uint16(b.in[b.pos:]))
			b.pos += 2
		} else if b.over++; b.over > 2 {
			return false
		}
		b.buf |= w << (16 - b.left)
		b.left += 16
	}
	return true
}

// read returns the next n (<= 17) bits.
func (b *lzxBits) read(n uint) (uint32, bool) {
	if n == 0 {
		return 0, true
	}
	if !b.fill(n) {
		return 0, false
	}
	v := b.buf >> (32 - n)
	b.buf <<= n
	b.left -= n
	return v, true
}

// symbol decodes one symbol of h, whose longest code has maxLen bits.
// Only maxLen bits are made available first, as wimlib and Microsoft's
// decoders do: what is buffered decides what align drops.
func (b *lzxBits) symbol(h *huffman, maxLen uint) (int, bool) {
	if !b.fill(maxLen) {
		return 0, false
	}
	s, l, ok := h.decode(b.buf>>(32-lzxMaxCodeLen), lzxMaxCodeLen)
	if !ok {
		return 0, false
	}
	b.buf <<= uint(l)
	b.left -= uint(l)
	return s, true
}

// align pads to a 16-bit boundary before an uncompressed block's header
// ([MS-PATCH] 2.3.2.3: 1 to 16 bits). Like wimlib and libmspack it drops
// every buffered bit, loading one word first when none is buffered, and
// returns the byte position that follows.
func (b *lzxBits) align() (int, bool) {
	if b.left == 0 && !b.fill(1) {
		return 0, false
	}
	b.buf, b.left = 0, 0
	return b.pos, b.over == 0
}

// decompressLZX decodes one WOF LZX chunk: out has exactly the chunk's
// uncompressed length (at most 32 KiB).
func decompressLZX(out, in []byte) error {
	if len(out) > lzxWindow {
		return corruptf("LZX: %d-byte chunk exceeds the %d-byte window", len(out), lzxWindow)
	}
	d := lzxDecoder{bits: lzxBits{in: in}, r: [3]uint32{1, 1, 1}}
	for pos := 0; pos < len(out); {
		n, err := d.block(out, pos)
		if err != nil {
			return err
		}
		pos += n
	}
	lzxUndoE8(out)
	return nil
}

// lzxDecoder holds the state that carries from block to block of a chunk.
type lzxDecoder struct {
	bits    lzxBits
	r       [3]uint32 // repeated offsets R0, R1, R2
	mainLen [lzxMainSymbols + lzxMaxRunOverrun]uint8
	lenLen  [lzxLenSymbols + lzxMaxRunOverrun]uint8
}

// block decodes one block starting at out[pos:] and returns its size.
func (d *lzxDecoder) block(out []byte, pos int) (int, error) {
	typ, ok1 := d.bits.read(3)
	flag, ok2 := d.bits.read(1)
	size := uint32(lzxDefaultBlock)
	ok3 := true
	if flag == 0 {
		size, ok3 = d.bits.read(16)
	}
	if !ok1 || !ok2 || !ok3 {
		return 0, corruptf("LZX: block header at output %d: input exhausted", pos)
	}
	if size == 0 || int(size) > len(out)-pos {
		return 0, corruptf("LZX: block of %d bytes at output %d of a %d-byte chunk", size, pos, len(out))
	}
	end := pos + int(size)
	switch typ {
	case lzxVerbatim, lzxAligned:
		var aligned *huffman
		if typ == lzxAligned {
			var lens [lzxAlignedSyms]uint8
			for i := range lens {
				v, ok := d.bits.read(3)
				if !ok {
					return 0, corruptf("LZX: aligned offset tree at output %d: input exhausted", pos)
				}
				lens[i] = uint8(v)
			}
			var err error
			if aligned, err = newHuffman(lens[:], 7); err != nil {
				return 0, corruptf("LZX: aligned offset tree at output %d: %v", pos, err)
			}
		}
		main, length, err := d.trees()
		if err != nil {
			return 0, corruptf("LZX: block trees at output %d: %v", pos, err)
		}
		if err := d.compressed(out, pos, end, main, length, aligned); err != nil {
			return 0, err
		}
	case lzxUncompressed:
		p, ok := d.bits.align()
		if !ok || p+12 > len(d.bits.in) {
			return 0, corruptf("LZX: uncompressed block header at output %d: input exhausted", pos)
		}
		for i := range d.r {
			d.r[i] = binary.LittleEndian.Uint32(d.bits.in[p+4*i:])
			if d.r[i] == 0 || d.r[i] > lzxWindow {
				return 0, corruptf("LZX: uncompressed block at output %d: repeated offset R%d = %d", pos, i, d.r[i])
			}
		}
		p += 12
		if p+int(size) > len(d.bits.in) {
			return 0, corruptf("LZX: uncompressed block of %d bytes at output %d: input has %d", size, pos, len(d.bits.in)-p)
		}
		copy(out[pos:end], d.bits.in[p:])
		d.bits.pos = p + int(size) + int(size&1) // odd blocks are padded to a word
	default:
		return 0, corruptf("LZX: block type %d at output %d", typ, pos)
	}
	return int(size), nil
}

// trees reads the main and length trees of a verbatim or aligned block;
// their lengths are coded as deltas from the previous block's.
func (d *lzxDecoder) trees() (main, length *huffman, err error) {
	if err := d.readLens(d.mainLen[:], lzxNumChars); err != nil {
		return nil, nil, err
	}
	if err := d.readLens(d.mainLen[lzxNumChars:], lzxMainSymbols-lzxNumChars); err != nil {
		return nil, nil, err
	}
	if err := d.readLens(d.lenLen[:], lzxLenSymbols); err != nil {
		return nil, nil, err
	}
	if main, err = newHuffman(d.mainLen[:lzxMainSymbols], lzxMaxCodeLen); err != nil {
		return nil, nil, err
	}
	if length, err = newHuffman(d.lenLen[:lzxLenSymbols], lzxMaxCodeLen); err != nil {
		return nil, nil, err
	}
	return main, length, nil
}

// readLens reads a pretree and n code lengths into lens, which must have
// room for lzxMaxRunOverrun more: a run may overshoot n, as in wimlib.
func (d *lzxDecoder) readLens(lens []uint8, n int) error {
	var pl [lzxPreSymbols]uint8
	for i := range pl {
		v, ok := d.bits.read(4)
		if !ok {
			return corruptf("pretree: input exhausted")
		}
		pl[i] = uint8(v)
	}
	pre, err := newHuffman(pl[:], 15)
	if err != nil {
		return corruptf("pretree: %v", err)
	}
	delta := func(old uint8, sym int) uint8 { return uint8((int(old) - sym + 17) % 17) }
	for i := 0; i < n; {
		sym, ok := d.bits.symbol(pre, 15)
		if !ok {
			return corruptf("pretree symbol for length %d: bad code or input exhausted", i)
		}
		if sym < 17 {
			lens[i] = delta(lens[i], sym)
			i++
			continue
		}
		var run uint32
		var v uint8
		switch sym {
		case 17:
			run, ok = d.bits.read(4)
			run += 4
		case 18:
			run, ok = d.bits.read(5)
			run += 20
		case 19:
			run, ok = d.bits.read(1)
			run += 4
			var s int
			if ok {
				s, ok = d.bits.symbol(pre, 15)
			}
			if ok && s > 17 {
				return corruptf("pretree: symbol %d after a same-length run", s)
			}
			v = delta(lens[i], s)
		}
		if !ok || i+int(run) > len(lens) {
			return corruptf("pretree run at length %d: bad run or input exhausted", i)
		}
		for ; run > 0; run-- {
			lens[i] = v
			i++
		}
	}
	return nil
}

// compressed decodes the literals and matches of a verbatim or aligned
// block into out[pos:end].
func (d *lzxDecoder) compressed(out []byte, pos, end int, main, length, aligned *huffman) error {
	for pos < end {
		sym, ok := d.bits.symbol(main, lzxMaxCodeLen)
		if !ok {
			return corruptf("LZX: main symbol at output %d: bad code or input exhausted", pos)
		}
		if sym < lzxNumChars {
			out[pos] = byte(sym)
			pos++
			continue
		}
		sym -= lzxNumChars
		n, slot := sym%lzxNumLenHeaders, sym/lzxNumLenHeaders
		if n == lzxNumPrimaryLen {
			l, ok := d.bits.symbol(length, lzxMaxCodeLen)
			if !ok {
				return corruptf("LZX: length symbol at output %d: bad code or input exhausted", pos)
			}
			n += l
		}
		n += lzxMinMatch
		off, err := d.offset(slot, aligned)
		if err != nil {
			return corruptf("LZX: match offset at output %d: %v", pos, err)
		}
		if int(off) > pos || n > end-pos {
			return corruptf("LZX: match of %d bytes at distance %d at output %d (block ends at %d)", n, off, pos, end)
		}
		for i := 0; i < n; i++ { // overlapping copies repeat the pattern
			out[pos+i] = out[pos+i-int(off)]
		}
		pos += n
	}
	return nil
}

// offset decodes the match offset of a position slot and updates R0-R2.
// A repeated offset swaps with R0 (not a true LRU, as in the spec).
func (d *lzxDecoder) offset(slot int, aligned *huffman) (uint32, error) {
	if slot < 3 {
		off := d.r[slot]
		d.r[slot] = d.r[0]
		d.r[0] = off
		return off, nil
	}
	nb := uint(lzxExtraBits[slot])
	var extra uint32
	var ok bool
	if aligned != nil && nb >= 3 {
		var hi uint32
		var lo int
		if hi, ok = d.bits.read(nb - 3); ok {
			lo, ok = d.bits.symbol(aligned, 7)
		}
		extra = hi<<3 | uint32(lo)
	} else {
		extra, ok = d.bits.read(nb)
	}
	if !ok {
		return 0, corruptf("footer bits: bad code or input exhausted")
	}
	off := lzxSlotBase[slot] + extra - 2
	d.r[2], d.r[1], d.r[0] = d.r[1], d.r[0], off
	return off, nil
}

// lzxUndoE8 reverses the E8 call translation over a decoded chunk: each
// 0xE8 byte before the last 10 is followed by an absolute target that
// becomes relative again when it lies within the translation size.
func lzxUndoE8(b []byte) {
	if len(b) <= 10 {
		return
	}
	for i := 0; i < len(b)-10; {
		if b[i] != 0xe8 {
			i++
			continue
		}
		abs := int32(binary.LittleEndian.Uint32(b[i+1:]))
		switch {
		case abs >= 0 && abs < lzxE8FileSize:
			binary.LittleEndian.PutUint32(b[i+1:], uint32(abs-int32(i)))
		case abs < 0 && abs >= -int32(i):
			binary.LittleEndian.PutUint32(b[i+1:], uint32(abs+lzxE8FileSize))
		}
		i += 5
	}
}
