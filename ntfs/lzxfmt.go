package ntfs

// LZX constants as WOF (and WIM) use the format: [MS-PATCH] LZX DELTA
// with a 32 KiB window, every chunk an independent stream with E8
// translation always on and no header bit for it.
const (
	lzxWindow        = 32768 // bytes; also WOF's LZX chunk size
	lzxNumChars      = 256
	lzxNumLenHeaders = 8   // length header values in a main symbol
	lzxNumPrimaryLen = 7   // length header value meaning "read a length symbol"
	lzxMinMatch      = 2   // bytes
	lzxLenSymbols    = 249 // length tree symbols
	lzxPreSymbols    = 20  // pretree symbols, 4-bit lengths
	lzxAlignedSyms   = 8   // aligned offset tree symbols, 3-bit lengths
	lzxOffsetSlots   = 30  // position slots of a 32 KiB window
	lzxMainSymbols   = lzxNumChars + lzxNumLenHeaders*lzxOffsetSlots
	lzxMaxCodeLen    = 16
	lzxMaxRunOverrun = 51       // a pretree run may write this far past the lengths it was asked for
	lzxE8FileSize    = 12000000 // translation size WIM/WOF use for E8 call instructions
	lzxDefaultBlock  = 32768    // block size when the header's one-bit flag is set
	lzxVerbatim      = 1        // block types
	lzxAligned       = 2
	lzxUncompressed  = 3
)

// lzxExtraBits and lzxSlotBase give, per position slot, the footer bits
// and the formatted offset base ([MS-PATCH] 2.3.2.2); the match offset
// is base + footer - 2. Slots 0-2 are the repeated offsets R0-R2.
var lzxExtraBits, lzxSlotBase = lzxSlots()

func lzxSlots() (bits [lzxOffsetSlots]uint8, base [lzxOffsetSlots]uint32) {
	for s := 0; s < lzxOffsetSlots; s++ {
		if s >= 4 {
			bits[s] = uint8(min(s/2-1, 17))
		}
		if s > 0 {
			base[s] = base[s-1] + 1<<bits[s-1]
		}
	}
	return bits, base
}
