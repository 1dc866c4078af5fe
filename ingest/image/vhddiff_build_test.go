package image

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf16"
)

// No Linux tool writes differencing VHDs or VHDXs (qemu-img create -b
// refuses both formats), so these builders turn a dynamic image that
// qemu-img made and qemu-io wrote into a differencing one: the disk type
// or has-parent flag, the parent's id and locators, and sector bitmaps
// marking exactly the sectors qemu-io wrote. The oracle is the parent's
// raw conversion with the same qemu-io writes applied; libvhdi, where
// installed, reads the same bytes (see vhdiOracle).

// write is one qemu-io write of pattern pat, sector-aligned so that the
// bitmap can tell the child's sectors from the parent's.
type write struct {
	off, n int64
	pat    byte
}

func (w write) cmd() string { return fmt.Sprintf("write -P %#x %d %d", w.pat, w.off, w.n) }

// applyWrites runs the writes on img with qemu-io.
func applyWrites(t *testing.T, img, qfmt string, ws []write) {
	t.Helper()
	args := []string{"-f", qfmt}
	for _, w := range ws {
		args = append(args, "-c", w.cmd())
	}
	run(t, "qemu-io", append(args, img)...)
}

// sectorsOf reports which sectors of [base, base+n) the writes touch.
func sectorsOf(ws []write, base, n, sector int64) []bool {
	out := make([]bool, n/sector)
	for _, w := range ws {
		for s := max(w.off, base); s < min(w.off+w.n, base+n); s += sector {
			out[(s-base)/sector] = true
		}
	}
	return out
}

func utf16Bytes(s string, order binary.AppendByteOrder) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = order.AppendUint16(b, u)
	}
	return b
}

// mkVHDDiff makes the dynamic VHD child (written with ws) a differencing
// disk of the VHD at parentPath, recorded under the relative name rel.
func mkVHDDiff(t *testing.T, child, parentPath, rel string, ws []write) {
	t.Helper()
	b, err := os.ReadFile(child)
	if err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	end := len(b) - 512
	footer := append([]byte(nil), b[end:]...)
	hdr := b[be.Uint64(footer[16:]):]
	bs := int64(be.Uint32(hdr[32:]))
	bitmapLen := (bs/512/8 + 511) &^ 511
	bat := b[be.Uint64(hdr[16:]):]
	for i := range int64(be.Uint32(hdr[28:])) {
		e := be.Uint32(bat[4*i:])
		if e == 0xffffffff {
			continue
		}
		bm := b[int64(e)*512 : int64(e)*512+bitmapLen]
		clear(bm)
		for s, on := range sectorsOf(ws, i*bs, bs, 512) {
			if on {
				bm[s/8] |= 0x80 >> (s % 8)
			}
		}
	}
	pf := readBytes(t, parentPath, fileSize(t, parentPath)-512, 512)
	copy(hdr[40:56], pf[68:84]) // parent unique id
	clear(hdr[64:576])
	copy(hdr[64:576], utf16Bytes(rel[strings.LastIndexAny(rel, `\/`)+1:], be))
	loc := utf16Bytes(rel, binary.LittleEndian)
	copy(hdr[576:], "W2ru")
	be.PutUint32(hdr[580:], 512)
	be.PutUint32(hdr[584:], uint32(len(loc)))
	be.PutUint64(hdr[592:], uint64(end))
	fixVHDSum(hdr[:1024], 36)
	be.PutUint32(footer[60:], 4) // differencing
	fixVHDSum(footer, 64)
	copy(b[:512], footer)
	sector := make([]byte, 512)
	copy(sector, loc)
	b = append(append(b[:end], sector...), footer...)
	if err := os.WriteFile(child, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fixVHDSum(b []byte, at int) {
	var sum uint32
	for i, c := range b {
		if i < at || i >= at+4 {
			sum += uint32(c)
		}
	}
	binary.BigEndian.PutUint32(b[at:], ^sum)
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// guidBytes is the on-disk form of a GUID in text form.
func guidBytes(s string) []byte {
	var a uint32
	var b, c, d uint16
	var e uint64
	fmt.Sscanf(s, "%08x-%04x-%04x-%04x-%012x", &a, &b, &c, &d, &e)
	out := binary.LittleEndian.AppendUint32(nil, a)
	out = binary.LittleEndian.AppendUint16(out, b)
	out = binary.LittleEndian.AppendUint16(out, c)
	out = binary.BigEndian.AppendUint16(out, d)
	for i := range 6 {
		out = append(out, byte(e>>(40-8*i)))
	}
	return out
}

// vhdxDataWriteGUID is the data write GUID of img's current header.
func vhdxDataWriteGUID(t *testing.T, img string) string {
	h1, h2 := readBytes(t, img, 64<<10, 64), readBytes(t, img, 128<<10, 64)
	h := h1
	if binary.LittleEndian.Uint64(h2[8:]) > binary.LittleEndian.Uint64(h1[8:]) {
		h = h2
	}
	return "{" + guidText(h[32:48]) + "}"
}

// mkVHDXDiff makes the dynamic VHDX child (written with ws) a
// differencing disk of the VHDX at parentPath, recorded under rel.
func mkVHDXDiff(t *testing.T, child, parentPath, rel string, ws []write) {
	t.Helper()
	b, err := os.ReadFile(child)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	var batOff, metaOff int64
	rt := b[192<<10:]
	for i := range int(le.Uint32(rt[8:])) {
		e := rt[16+32*i:]
		switch guidText(e[:16]) {
		case "2dc27766-f623-4200-9d64-115e9bfd4a08":
			batOff = int64(le.Uint64(e[16:]))
		case "8b7ca206-4790-4b9a-b8fe-575f050f886e":
			metaOff = int64(le.Uint64(e[16:]))
		}
	}
	meta := b[metaOff:]
	item := func(g string) []byte { return meta[vhdxItemOffset(t, child, metaOff, g):] }
	params := item("caa16737-fa36-4d43-b3b6-33f0aa44e76b")
	bs := int64(le.Uint32(params))
	le.PutUint32(params[4:], le.Uint32(params[4:])|2) // has parent
	sector := int64(le.Uint32(item("8141bf1d-a96f-4709-ba47-f233a8faab5f")))
	size := int64(le.Uint64(item("2fa54224-cd1b-4876-b211-5dbed83bf4b8")))
	addLocator(meta, map[string]string{
		"parent_linkage":      vhdxDataWriteGUID(t, parentPath),
		"relative_path":       rel,
		"absolute_win32_path": `C:\Hyper-V\` + rel[strings.LastIndexAny(rel, `\/`)+1:],
	})
	cr := (1 << 23) * sector / bs
	var bitmap []byte
	for blk := range (size + bs - 1) / bs {
		e := b[batOff+8*(blk+blk/cr):]
		if le.Uint64(e)&7 != 6 {
			continue
		}
		le.PutUint64(e, le.Uint64(e)&^7|7) // partially present
		if bitmap == nil {
			bitmap = make([]byte, 1<<20)
		}
		bit0 := (blk % cr) * bs / sector
		for s, on := range sectorsOf(ws, blk*bs, bs, sector) {
			if on {
				i := bit0 + int64(s)
				bitmap[i/8] |= 1 << (i % 8)
			}
		}
	}
	if bitmap != nil {
		off := (int64(len(b)) + 1<<20 - 1) &^ (1<<20 - 1)
		b = append(b, make([]byte, off-int64(len(b)))...)
		b = append(b, bitmap...)
		le.PutUint64(b[batOff+8*cr:], uint64(off)|6)
	}
	if err := os.WriteFile(child, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// addLocator appends a VHDX parent locator item after the last item of
// the metadata region meta and lists it in the table.
func addLocator(meta []byte, kv map[string]string) {
	le := binary.LittleEndian
	keys := []string{"parent_linkage", "relative_path", "absolute_win32_path"}
	item := guidBytes("B04AEFB7-D19E-4A81-B789-25B8E9445913")
	item = le.AppendUint16(item, 0)
	item = le.AppendUint16(item, uint16(len(keys)))
	strs := []byte{}
	base := 20 + 12*len(keys)
	for _, k := range keys {
		kb, vb := utf16Bytes(k, le), utf16Bytes(kv[k], le)
		item = le.AppendUint32(item, uint32(base+len(strs)))
		item = le.AppendUint32(item, uint32(base+len(strs)+len(kb)))
		item = le.AppendUint16(item, uint16(len(kb)))
		item = le.AppendUint16(item, uint16(len(vb)))
		strs = append(append(strs, kb...), vb...)
	}
	item = append(item, strs...)
	n := int(le.Uint16(meta[10:]))
	free := uint32(64 << 10)
	for i := 1; i <= n; i++ {
		e := meta[32*i:]
		free = max(free, (le.Uint32(e[16:])+le.Uint32(e[20:])+7)&^7)
	}
	copy(meta[free:], item)
	e := meta[32*(n+1):]
	copy(e, guidBytes("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C"))
	le.PutUint32(e[16:], free)
	le.PutUint32(e[20:], uint32(len(item)))
	le.PutUint32(e[24:], 4) // required
	le.PutUint16(meta[10:], uint16(n+1))
}
