package ntfs

// huffman decodes a canonical Huffman code given by code lengths, as used
// by XPRESS Huffman ([MS-XCA] 2.1) and LZX.
type huffman struct {
	count  [17]uint16 // codes of each length
	symbol []uint16   // symbols ordered by (length, value)
	// fast maps the next huffFastBits input bits to symbol<<5 | length
	// for codes of at most huffFastBits bits; 0 means "decode slowly".
	fast [1 << huffFastBits]uint16
}

// huffFastBits is the width of the direct lookup table.
const huffFastBits = 10

// newHuffman builds a decoder; over-subscribed codes are rejected,
// incomplete ones accepted (a symbol outside the code fails to decode).
func newHuffman(lens []uint8, maxLen int) (*huffman, error) {
	h := &huffman{symbol: make([]uint16, 0, len(lens))}
	for _, l := range lens {
		if int(l) > maxLen {
			return nil, corruptf("Huffman code length %d above %d", l, maxLen)
		}
		h.count[l]++
	}
	h.count[0] = 0
	left := 1
	for l := 1; l <= maxLen; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return nil, corruptf("over-subscribed Huffman code")
		}
	}
	code := 0
	for l := 1; l <= maxLen; l++ {
		for s, sl := range lens {
			if int(sl) != l {
				continue
			}
			h.symbol = append(h.symbol, uint16(s))
			if l <= huffFastBits {
				lo := code << (huffFastBits - l)
				for i := lo; i < lo+1<<(huffFastBits-l); i++ {
					h.fast[i] = uint16(s)<<5 | uint16(l)
				}
			}
			code++
		}
		code <<= 1
	}
	return h, nil
}

// decode decodes one symbol from bits, whose low maxLen bits are the next
// input bits, most significant first. It returns the symbol and its length.
func (h *huffman) decode(bits uint32, maxLen int) (int, int, bool) {
	if maxLen >= huffFastBits {
		if e := h.fast[bits>>(maxLen-huffFastBits)&(1<<huffFastBits-1)]; e != 0 {
			return int(e >> 5), int(e & 31), true
		}
	}
	code, first, index := 0, 0, 0
	for l := 1; l <= maxLen; l++ {
		code |= int(bits>>(maxLen-l)) & 1
		c := int(h.count[l])
		if code-first < c {
			return int(h.symbol[index+code-first]), l, true
		}
		index += c
		first = (first + c) << 1
		code <<= 1
	}
	return 0, 0, false
}
