package diff

import "github.com/vmarchive/vmarchive/guestfs"

// toDisk maps volume bytes [off, off+n) to disk ranges through a volume's
// layout; ok is false when some of it is not mapped.
func toDisk(layout []guestfs.Piece, off, n int64) (out []extent, ok bool) {
	for _, p := range layout {
		if n <= 0 {
			break
		}
		if off >= p.Off+p.Len || off < p.Off {
			continue
		}
		k := min(n, p.Off+p.Len-off)
		out = appendExtent(out, extent{p.DiskOff + off - p.Off, k})
		off += k
		n -= k
	}
	return out, n <= 0
}

// pieceAt finds the piece of a layout that holds disk byte d.
func pieceAt(layout []guestfs.Piece, d int64) (guestfs.Piece, bool) {
	for _, p := range layout {
		if d >= p.DiskOff && d < p.DiskOff+p.Len {
			return p, true
		}
	}
	return guestfs.Piece{}, false
}

// sameLayout reports whether two layouts place a volume identically.
func sameLayout(a, b []guestfs.Piece) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// touched reports whether any changed range meets the volume's bytes.
func touched(changed []extent, layout []guestfs.Piece) bool {
	for _, p := range layout {
		if overlaps(changed, p.DiskOff, p.Len) {
			return true
		}
	}
	return false
}
