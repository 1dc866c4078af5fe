package partition

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// thinImage is an image made by lvmthin.sh, with its partition 1 (the PV).
type thinImage struct {
	path       string
	f          *os.File
	pvOff, pvN int64 // the PV partition in the image
}

var (
	thinOnce sync.Once
	thinImg  *thinImage
	thinErr  error
)

// buildThin runs lvmthin.sh once per test binary (it takes a few seconds).
func buildThin(t testing.TB) *thinImage {
	t.Helper()
	testenv.NeedTools(t, "lvm", "losetup", "sgdisk", "mke2fs", "debugfs", "python3", "thin_restore", "thin_check", "thin_dump")
	testenv.NeedRoot(t) // lvmthin.sh needs a loop device
	thinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lvmthin")
		if err != nil {
			thinErr = err
			return
		}
		out := filepath.Join(dir, "lvmthin.img")
		if b, err := exec.Command(filepath.Join("..", "testimages", "partition", "lvmthin.sh"), out).CombinedOutput(); err != nil {
			thinErr = fmt.Errorf("lvmthin.sh: %v\n%s", err, b)
			return
		}
		f, err := os.Open(out)
		if err != nil {
			thinErr = err
			return
		}
		st, _ := f.Stat()
		tab, err := Read(f, st.Size())
		if err != nil || len(tab.Partitions) != 1 {
			thinErr = fmt.Errorf("partition table: %v", err)
			return
		}
		p := tab.Partitions[0]
		thinImg = &thinImage{path: out, f: f, pvOff: p.Start, pvN: p.Size}
	})
	if thinErr != nil {
		t.Fatal(thinErr)
	}
	return thinImg
}

// TestMain removes the lvmthin.sh image after all tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if thinImg != nil {
		thinImg.f.Close()
		os.RemoveAll(filepath.Dir(thinImg.path))
	}
	os.Exit(code)
}

// vg scans the PV, with patch (if any) laid over the image bytes.
func (ti *thinImage) vg(t testing.TB, patch map[int64][]byte) *VolumeGroup {
	t.Helper()
	var r io.ReaderAt = ti.f
	if patch != nil {
		r = &overlay{r: ti.f, patch: patch}
	}
	vgs, err := ScanLVM([]*io.SectionReader{io.NewSectionReader(r, ti.pvOff, ti.pvN)})
	if err != nil || len(vgs) != 1 {
		t.Fatalf("ScanLVM: %d VGs, %v", len(vgs), err)
	}
	return vgs[0]
}

// overlay replaces whole blocks of r at the byte offsets of patch.
type overlay struct {
	r     io.ReaderAt
	patch map[int64][]byte
}

func (o *overlay) ReadAt(p []byte, off int64) (int, error) {
	n, err := o.r.ReadAt(p, off)
	for at, b := range o.patch {
		lo, hi := max(at, off), min(at+int64(len(b)), off+int64(n))
		if lo < hi {
			copy(p[lo-off:hi-off], b[lo-at:hi-at])
		}
	}
	return n, err
}

// TestLVMThin reads the thin LVs of lvmthin.sh's pool and compares them
// with the bytes that were put into them, and the segment maps with lvs.
func TestLVMThin(t *testing.T) {
	ti := buildThin(t)
	vg := ti.vg(t, nil)
	report, err := os.ReadFile(ti.path + ".lvs")
	if err != nil {
		t.Fatal(err)
	}
	checkThinReport(t, vg, string(report))
	for _, name := range []string{"thin1", "snap1", "big"} {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(ti.path + "." + name)
			if err != nil {
				t.Fatal(err)
			}
			r, err := vg.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes (%v); differs from the %d bytes put in at byte %d", len(got), err, len(want), firstDiff(got, want))
			}
			checkUnaligned(t, r, want)
			checkThinLayout(t, ti, vg, name, want)
		})
	}
	if _, err := vg.Open("pool"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Open(pool): %v, want unsupported (a pool is not a volume)", err)
	}
}

// checkThinLayout reads each piece of the LV's layout from the image and
// compares it with the bytes put into the LV there; what no piece covers
// must read as zeros, and the pieces must be in LV order.
func checkThinLayout(t *testing.T, ti *thinImage, vg *VolumeGroup, name string, want []byte) {
	t.Helper()
	pieces, err := vg.Layout(name)
	if err != nil {
		t.Fatalf("Layout: %v", err)
	}
	covered := make([]bool, len(want))
	var next int64
	for _, p := range pieces {
		if p.Device != 0 || p.Offset < next || p.Offset+p.Length > int64(len(want)) {
			t.Fatalf("piece %+v out of order or range (LV %d bytes)", p, len(want))
		}
		next = p.Offset + p.Length
		got := make([]byte, p.Length)
		if _, err := ti.f.ReadAt(got, ti.pvOff+p.DeviceOffset); err != nil || !bytes.Equal(got, want[p.Offset:next]) {
			t.Fatalf("piece %+v: image bytes differ from the LV's (%v)", p, err)
		}
		for i := p.Offset; i < next; i++ {
			covered[i] = true
		}
	}
	for i, c := range covered {
		if !c && want[i] != 0 {
			t.Fatalf("byte %d (%#x) is in no piece of %d", i, want[i], len(pieces))
		}
	}
	t.Logf("%d pieces", len(pieces))
}

// checkUnaligned reads odd ranges across chunk boundaries, concurrently,
// into buffers of 0xff bytes (unmapped chunks must be cleared, not skipped).
func checkUnaligned(t *testing.T, r io.ReaderAt, want []byte) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			off := int64(i)*int64(len(want))/8 + 65536 - 1000 - int64(i)
			buf := bytes.Repeat([]byte{0xff}, 70000)
			n, err := r.ReadAt(buf, off)
			if end := min(off+int64(len(buf)), int64(len(want))); !bytes.Equal(buf[:n], want[off:end]) || (err != nil && err != io.EOF) {
				t.Errorf("ReadAt(%d bytes at %d): %d, %v; bytes differ", len(buf), off, n, err)
			}
		}()
	}
	wg.Wait()
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// checkThinReport compares the thin segments with lvs -a (columns
// lv_name segtype lv_size pool_lv origin thin_id seg_pe_ranges; empty
// columns are blank).
func checkThinReport(t *testing.T, vg *VolumeGroup, report string) {
	t.Helper()
	seen := 0
	for _, line := range strings.Split(report, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != "thin" {
			continue
		}
		seen++
		lv := vg.LV(f[0])
		if lv == nil || !isThin(lv) {
			t.Errorf("LV %s: %+v, lvs says thin", f[0], lv)
			continue
		}
		seg := lv.Segments[0]
		got := fmt.Sprintf("%s thin %d %s", lv.Name, lv.Size, seg.ThinPool)
		if seg.Origin != "" {
			got += " " + seg.Origin
		}
		got += fmt.Sprintf(" %d", seg.DeviceID)
		if want := strings.Join(f, " "); got != want {
			t.Errorf("LV %s: %q, lvs says %q", lv.Name, got, want)
		}
	}
	pool := vg.LV("pool")
	if seen != 3 || pool == nil || pool.Segments[0].PoolData != "pool_tdata" || pool.Segments[0].PoolMetadata != "pool_tmeta" || pool.Segments[0].ChunkSize != 65536 {
		t.Errorf("%d thin LVs in the report; pool %+v", seen, pool)
	}
}

// thinDump is thin_dump's XML.
type thinDump struct {
	Time        uint32 `xml:"time,attr"`
	Transaction uint64 `xml:"transaction,attr"`
	BlockSize   uint32 `xml:"data_block_size,attr"`
	NrBlocks    uint64 `xml:"nr_data_blocks,attr"`
	Devices     []struct {
		ID       uint64 `xml:"dev_id,attr"`
		Mapped   uint64 `xml:"mapped_blocks,attr"`
		Trans    uint64 `xml:"transaction,attr"`
		Created  uint32 `xml:"creation_time,attr"`
		SnapTime uint32 `xml:"snap_time,attr"`
		Single   []struct {
			V    uint64 `xml:"origin_block,attr"`
			D    uint64 `xml:"data_block,attr"`
			Time uint32 `xml:"time,attr"`
		} `xml:"single_mapping"`
		Range []struct {
			V    uint64 `xml:"origin_begin,attr"`
			D    uint64 `xml:"data_begin,attr"`
			N    uint64 `xml:"length,attr"`
			Time uint32 `xml:"time,attr"`
		} `xml:"range_mapping"`
	} `xml:"device"`
}

// TestLVMThinDump compares the pool's superblock, device details and every
// mapping with what thin_dump says.
func TestLVMThinDump(t *testing.T) {
	ti := buildThin(t)
	dump := readThinDump(t, ti.path+".thin_dump")
	p, err := ti.vg(t, nil).openThinPool("pool")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(p.sb.Time, p.sb.TransID, p.sb.DataBlockSize, p.sb.DataSM.NrBlocks), fmt.Sprint(dump.Time, dump.Transaction, dump.BlockSize, dump.NrBlocks); got != want {
		t.Errorf("superblock time, transaction, block size, blocks: %s; thin_dump says %s", got, want)
	}
	mappings := 0
	for _, d := range dump.Devices {
		want := map[uint64]string{}
		for _, m := range d.Single {
			want[m.V] = fmt.Sprint(m.D, m.Time)
		}
		for _, m := range d.Range {
			for i := range m.N {
				want[m.V+i] = fmt.Sprint(m.D+i, m.Time)
			}
		}
		got := thinMappings(t, p, int64(d.ID))
		if len(got) != len(want) {
			t.Errorf("device %d: %d mappings, thin_dump says %d", d.ID, len(got), len(want))
		}
		for v, w := range want {
			if got[v] != w {
				t.Errorf("device %d block %d: %q, thin_dump says %q", d.ID, v, got[v], w)
			}
		}
		mappings += len(want)
		_, det, err := p.device(int64(d.ID))
		if g, w := fmt.Sprint(det.MappedBlocks, det.TransactionID, det.CreationTime, det.SnapshottedTime), fmt.Sprint(d.Mapped, d.Trans, d.Created, d.SnapTime); err != nil || g != w {
			t.Errorf("device %d details: %s (%v); thin_dump says %s", d.ID, g, err, w)
		}
	}
	used := map[uint64]bool{}
	for _, d := range dump.Devices {
		for _, m := range d.Single {
			used[m.D] = true
		}
	}
	for b := range p.nData {
		if got, err := p.allocated(b); err != nil || got != used[b] {
			t.Errorf("data block %d: allocated %v (%v) in the data space map; mapped in thin_dump: %v", b, got, err, used[b])
		}
	}
	if len(dump.Devices) != 3 || mappings < 300 {
		t.Errorf("thin_dump shows %d devices, %d mappings: the image proves little", len(dump.Devices), mappings)
	}
}

func readThinDump(t *testing.T, path string) thinDump {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var dump thinDump
	if err := xml.Unmarshal(b, &dump); err != nil {
		t.Fatal(err)
	}
	return dump
}

// freeBlock returns the lowest data block no mapping of thin_dump uses.
func freeBlock(dump thinDump) uint64 {
	used := map[uint64]bool{}
	for _, d := range dump.Devices {
		for _, m := range d.Single {
			used[m.D] = true
		}
		for _, m := range d.Range {
			for i := range m.N {
				used[m.D+i] = true
			}
		}
	}
	b := uint64(0)
	for used[b] {
		b++
	}
	return b
}

// thinMappings walks device id's mapping tree: virtual block -> "data time".
func thinMappings(t *testing.T, p *thinPool, id int64) map[uint64]string {
	t.Helper()
	root, _, err := p.device(id)
	if err != nil {
		t.Fatal(err)
	}
	m := map[uint64]string{}
	err = p.meta.walk(root, 8, func(k uint64, v []byte) error {
		bt := binary.LittleEndian.Uint64(v)
		m[k] = fmt.Sprint(bt>>thinTimeBits, bt&(1<<thinTimeBits-1))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLVMThinRefuses damages the pool metadata in ways the kernel (or
// thin_check) would refuse and checks that opening a thin LV says what is
// wrong and where, instead of reading guessed bytes.
func TestLVMThinRefuses(t *testing.T) {
	ti := buildThin(t)
	vg := ti.vg(t, nil)
	pieces, err := vg.Layout("pool_tmeta")
	if err != nil {
		t.Fatal(err)
	}
	metaOff := ti.pvOff + pieces[0].DeviceOffset // the metadata LV in the image
	meta, err := os.ReadFile(ti.path + ".tmeta")
	if err != nil {
		t.Fatal(err)
	}
	p, err := vg.openThinPool("pool")
	if err != nil {
		t.Fatal(err)
	}
	root1, _, err := p.device(1)
	if err != nil {
		t.Fatal(err)
	}
	block := func(n uint64) []byte { return bytes.Clone(meta[n*thinBlockSize : (n+1)*thinBlockSize]) }
	super := func(edit func([]byte)) []byte {
		b := block(0)
		edit(b)
		binary.LittleEndian.PutUint32(b, thinChecksum(b, thinSuperCsumXor))
		return b
	}
	// remap is device 1's mapping leaf with its first entry pointing at data
	// block b, checksum recomputed.
	remap := func(b uint64) []byte {
		leaf := block(root1)
		h := decodeThinNodeHeader(leaf)
		binary.LittleEndian.PutUint64(leaf[thinNodeHeaderSize+8*int(h.MaxEntries):], b<<thinTimeBits)
		binary.LittleEndian.PutUint32(leaf, thinChecksum(leaf, thinBtreeCsumXor))
		return leaf
	}
	free := freeBlock(readThinDump(t, ti.path+".thin_dump"))
	flipped := block(root1)
	flipped[100] ^= 1
	for _, tc := range []struct {
		name      string
		block     uint64
		data      []byte
		is        error
		want      string
		thinCheck bool // thin_check refuses it too (0.9.0 checks neither data block bounds nor data space map counts)
	}{
		{"node checksum", root1, flipped, ErrCorrupt, fmt.Sprintf("btree node at block %d (byte %d): checksum", root1, root1*thinBlockSize), true},
		{"superblock checksum", 0, func() []byte { b := block(0); b[20] ^= 1; return b }(), ErrCorrupt, "superblock checksum", true},
		{"unformatted", 0, make([]byte, thinBlockSize), ErrCorrupt, "superblock magic 0", true},
		{"needs_check", 0, super(func(b []byte) { b[4] |= thinNeedsCheck }), ErrCorrupt, "needs_check flag is set", false},
		{"held root", 0, super(func(b []byte) { binary.LittleEndian.PutUint64(b[56:], 7) }), errors.ErrUnsupported, "metadata snapshot is held at block 7", false},
		{"data block beyond pool", root1, remap(100000), ErrCorrupt, "maps to data block 100000, beyond the pool's 512 blocks", false},
		{"data block free", root1, remap(free), ErrCorrupt, fmt.Sprintf("maps to data block %d, which the data space map says is free", free), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vg := ti.vg(t, map[int64][]byte{metaOff + int64(tc.block)*thinBlockSize: tc.data})
			r, err := vg.Open("thin1")
			if err == nil {
				_, err = io.ReadAll(r)
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "vgt/pool") {
				t.Errorf("got %v; want %v naming %q and vgt/pool", err, tc.is, tc.want)
			}
			if tc.thinCheck {
				damaged := bytes.Clone(meta)
				copy(damaged[tc.block*thinBlockSize:], tc.data)
				f := filepath.Join(t.TempDir(), "tmeta")
				if err := os.WriteFile(f, damaged, 0o644); err != nil {
					t.Fatal(err)
				}
				if out, err := exec.Command("thin_check", f).CombinedOutput(); err == nil {
					t.Errorf("thin_check accepts the damage:\n%s", out)
				}
			}
		})
	}
	if _, err := vg.Open("snap1"); err != nil {
		t.Errorf("undamaged: %v", err)
	}
}
