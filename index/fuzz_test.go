package index

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// findDecoded is what Find does with a stored index.
func findDecoded(b []byte, buf *searchBuf, p *Pattern) (*pointHits, error) {
	ix, err := decode(b, &buf.dec)
	if err != nil {
		return nil, err
	}
	return search(ix, &catalog.Manifest{}, p, true, buf)
}

// recordOK and checkRecord agree.
func FuzzCheckRecord(f *testing.F) {
	for _, v := range seedVolumes() {
		for i := range v.Entries {
			var r [recordLen]byte
			encodeRecord(r[:], &v.Entries[i])
			f.Add(r[:])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < recordLen {
			return
		}
		if ok, err := recordOK(b), checkRecord(b); ok != (err == nil) {
			t.Fatalf("recordOK %v, checkRecord %v", ok, err)
		}
	})
}

// seedVolumes is a small index shaped like a real one: a partition with
// a tree, a volume without filesystem, a damaged one.
func seedVolumes() []*buildVolume {
	t := time.Date(2026, 11, 20, 1, 0, 0, 250000000, time.UTC)
	es := []Entry{
		{Path: "/", Ino: 2, Mode: 0o40755, Nlink: 5, Size: 4096, Mtime: t, Ctime: t},
		{Path: "/etc", Ino: 12, Mode: 0o40755, Nlink: 2, Size: 4096, Mtime: t, Ctime: t},
		{Path: "/etc/hostname", Ino: 13, Mode: 0o100644, Nlink: 1, Size: 9, Mtime: t, Ctime: t, Crtime: t, Atime: t.Add(time.Hour), Gen: 77, HasKey: true, Key: ContentKey{1, 2, 3}},
		{Path: "/etc/hosts", Ino: 14, Mode: 0o100644, Nlink: 2, Size: 120, Mtime: t, Ctime: t, HasKey: true, Key: ContentKey{9}},
		{Path: "/home", Ino: 15, Mode: 0o40700, Nlink: 2, Uid: 1000, Gid: 1000, Mtime: t, ListFailed: true},
		{Path: "/link", Ino: 16, Mode: 0o120777, Nlink: 1, Size: 4, StatFailed: true},
	}
	return []*buildVolume{
		{Disk: "disk0", Name: "p1", FSType: "ext4", Entries: es, Warnings: []string{"/home: list directory: bad block"}},
		{Disk: "disk0", Name: "p2", NoFS: true, Err: "no known filesystem"},
		{Disk: "disk1", Name: "fs", FSType: "ntfs", Err: "fs: ntfs: bad boot sector"},
	}
}

func TestEncodeDecode(t *testing.T) {
	vols := seedVolumes()
	b, err := encode(vols)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Volumes) != 3 {
		t.Fatalf("%d volumes", len(ix.Volumes))
	}
	for i, v := range ix.Volumes {
		w := vols[i]
		if v.Disk != w.Disk || v.Name != w.Name || v.FSType != w.FSType || v.NoFS != w.NoFS || v.Err != w.Err || len(v.Warnings) != len(w.Warnings) {
			t.Errorf("volume %d: %+v", i, v)
		}
		got := v.Entries()
		if len(got) != len(w.Entries) {
			t.Fatalf("volume %d: %d entries, want %d", i, len(got), len(w.Entries))
		}
		for j := range got {
			a, b := got[j], w.Entries[j]
			if a.Path != b.Path || a.Ino != b.Ino || a.Mode != b.Mode || a.Size != b.Size || !a.Mtime.Equal(b.Mtime) || !a.Crtime.Equal(b.Crtime) ||
				a.Crtime.IsZero() != b.Crtime.IsZero() || !a.Atime.Equal(b.Atime) || a.Atime.IsZero() != b.Atime.IsZero() || a.Gen != b.Gen || a.Key != b.Key || a.HasKey != b.HasKey || a.StatFailed != b.StatFailed || a.ListFailed != b.ListFailed || a.Uid != b.Uid {
				t.Errorf("entry %d: %+v, want %+v", j, a, b)
			}
		}
	}
	if ix.Version() != formatVersion {
		t.Errorf("version %d", ix.Version())
	}
	if e, ok := ix.Volumes[0].Lookup("/etc/hosts"); !ok || e.Ino != 14 {
		t.Errorf("lookup: %+v %v", e, ok)
	}
	if _, ok := ix.Volumes[0].Lookup("/etc/host"); ok {
		t.Error("lookup of a missing path")
	}
	// Every truncation is an error, never a panic.
	for n := 0; n < len(b); n++ {
		if _, err := Decode(b[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
}

func FuzzDecode(f *testing.F) {
	b, err := encode(seedVolumes())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	// A volume whose disk could not be read, with entries all the same:
	// not searched, still checked.
	vols := seedVolumes()
	vols = append(vols, &buildVolume{Disk: "disk2", Entries: vols[0].Entries[:3]})
	b, err = encode(vols)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	empty, _ := encode(nil)
	f.Add(empty)
	f.Add([]byte(magic + "\x01\x00\x00\x00"))
	all, err := Compile("/**")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ix, err := Decode(b)
		// Find's way, checking the path columns while searching them,
		// must judge the same and find every entry but the roots.
		var buf searchBuf
		ph, ferr := findDecoded(b, &buf, all)
		if (err == nil) != (ferr == nil) {
			t.Fatalf("Decode: %v; decode and search: %v", err, ferr)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || !errors.Is(ferr, ErrCorrupt) {
				t.Fatalf("errors not marked corrupt: %v; %v", err, ferr)
			}
			return
		}
		k := 0
		for vi, v := range ix.Volumes {
			if v.Name == "" {
				continue // a disk that could not be read: not searched
			}
			for _, e := range v.Entries() {
				if e.Path == "/" {
					continue
				}
				if k >= len(ph.hits) {
					t.Fatalf("search found %d entries, Decode has more", len(ph.hits))
				}
				var got Entry
				decodeRecord(ph.record(k), &got)
				got.Path = ph.hits[k].path
				if ph.hits[k].vol != int32(vi) || got != e {
					t.Fatalf("hit %d: volume %d %+v, Decode has volume %d %+v", k, ph.hits[k].vol, got, vi, e)
				}
				k++
			}
		}
		if k != len(ph.hits) {
			t.Fatalf("search found %d entries, Decode %d", len(ph.hits), k)
		}
		// What decodes must be usable without panics and encode back.
		var vols []*buildVolume
		for _, v := range ix.Volumes {
			vols = append(vols, &buildVolume{Disk: v.Disk, Name: v.Name, FSType: v.FSType, NoFS: v.NoFS, Err: v.Err, Warnings: v.Warnings, Entries: v.Entries()})
			v.Lookup("/x")
		}
		again, err := encode(vols)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		ix2, err := Decode(again)
		if err != nil {
			t.Fatalf("decode of re-encoded: %v", err)
		}
		if len(ix2.Volumes) != len(ix.Volumes) {
			t.Fatal("volume count changed")
		}
	})
}

// plainParts returns the decompressed parts A and B of an encoded index.
func plainParts(tb testing.TB, enc []byte) (a, b []byte) {
	tb.Helper()
	r := reader{b: enc, off: headerLen}
	alen, blen := r.uvarint("a", maxPartLen), r.uvarint("b", maxPartLen)
	zalen := r.uvarint("za", uint64(len(enc)))
	za, zb, ok := r.bytes(int(zalen))
	if r.err != nil || !ok {
		tb.Fatalf("header: %v", r.err)
	}
	a, err := decompress(za, int(alen), "part A", nil)
	if err == nil {
		b, err = decompress(zb, int(blen), "part B", nil)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return a, b
}

// FuzzDecodeParts feeds decompressed parts A and B straight to the inner
// decoders, which FuzzDecode reaches only through its seeds (a mutated
// zstd frame fails its checksum first). Any input must give an error
// marked ErrCorrupt or an index whose every entry reads back; checking the
// path columns apart (checkColumns) and while searching them must agree;
// a valid index must encode again to the same volumes and entries. Seeds
// are the parts of real encodings (testdata/fuzz holds one of an index
// built from testimages/index/tree.sh).
func FuzzDecodeParts(f *testing.F) {
	vols := seedVolumes()
	more := append(seedVolumes(), &buildVolume{Disk: "disk2", Entries: vols[0].Entries[:3]})
	for _, vs := range [][]*buildVolume{vols, more, nil} {
		enc, err := encode(vs)
		if err != nil {
			f.Fatal(err)
		}
		a, b := plainParts(f, enc)
		f.Add(a, b)
		if len(b) > 0 {
			f.Add(a, b[:len(b)-1])
		}
		f.Add(a[:len(a)/2], b)
	}
	all, err := Compile("/**")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ix, err := decodeVolumes(a)
		if err == nil {
			err = ix.attachRecords(b)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not marked corrupt: %v", err)
			}
			return
		}
		cerr := ix.checkColumns()
		var buf searchBuf
		ph, serr := search(ix, &catalog.Manifest{}, all, true, &buf)
		if (cerr == nil) != (serr == nil) {
			t.Fatalf("checkColumns: %v; search: %v", cerr, serr)
		}
		if cerr != nil {
			if !errors.Is(cerr, ErrCorrupt) || !errors.Is(serr, ErrCorrupt) {
				t.Fatalf("errors not marked corrupt: %v; %v", cerr, serr)
			}
			return
		}
		var again []*buildVolume
		hits := 0
		for _, v := range ix.Volumes {
			es := v.Entries()
			if len(es) != v.Len() {
				t.Fatalf("volume %s/%s: %d entries, header says %d", v.Disk, v.Name, len(es), v.Len())
			}
			for i, e := range es {
				if i > 0 && es[i-1].Path >= e.Path || e.Path[0] != '/' {
					t.Fatalf("volume %s/%s entry %d: path %q after %q", v.Disk, v.Name, i, e.Path, es[max(i-1, 0)].Path)
				}
				if v.Name != "" && e.Path != "/" {
					hits++
				}
				// Lookup is a linear scan: try a few, not all (quadratic).
				if i == 0 || i == len(es)/2 || i == len(es)-1 {
					if got, ok := v.Lookup(e.Path); !ok || got != e {
						t.Fatalf("Lookup(%q): %+v %v, want %+v", e.Path, got, ok, e)
					}
				}
			}
			again = append(again, &buildVolume{Disk: v.Disk, Name: v.Name, FSType: v.FSType, NoFS: v.NoFS, Err: v.Err, Warnings: v.Warnings, Entries: es})
		}
		if len(ph.hits) != hits {
			t.Fatalf("search found %d entries, the volumes hold %d", len(ph.hits), hits)
		}
		enc, err := encode(again)
		if err != nil {
			t.Fatalf("encode again: %v", err)
		}
		ix2, err := Decode(enc)
		if err != nil || len(ix2.Volumes) != len(again) {
			t.Fatalf("decode of the encoded again: %v", err)
		}
		for i, v := range ix2.Volumes {
			w := again[i]
			es := v.Entries()
			if v.Disk != w.Disk || v.Name != w.Name || v.FSType != w.FSType || v.NoFS != w.NoFS || v.Err != w.Err ||
				len(v.Warnings) != len(w.Warnings) || len(es) != len(w.Entries) {
				t.Fatalf("volume %d changed by encoding again: %+v, was %+v", i, v, w)
			}
			for j := range es {
				if es[j] != w.Entries[j] {
					t.Fatalf("volume %d entry %d changed by encoding again: %+v, was %+v", i, j, es[j], w.Entries[j])
				}
			}
		}
	})
}

// An index stored by a build before access times (testdata/format1.idx:
// seedVolumes encoded by format 1's encoder) still decodes, with zero
// access times and generations and everything else as it was.
func TestFormat1Readable(t *testing.T) {
	b, err := os.ReadFile("testdata/format1.idx")
	if err != nil {
		t.Fatal(err)
	}
	ix, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if ix.Version() != 1 {
		t.Errorf("version %d, want 1", ix.Version())
	}
	want := seedVolumes()
	got := ix.Volumes[0].Entries()
	if len(got) != len(want[0].Entries) {
		t.Fatalf("%d entries, want %d", len(got), len(want[0].Entries))
	}
	for i, g := range got {
		w := want[0].Entries[i]
		w.Atime, w.Gen = time.Time{}, 0
		if g.Path != w.Path || g.Ino != w.Ino || g.Size != w.Size || !g.Mtime.Equal(w.Mtime) || !g.Crtime.Equal(w.Crtime) ||
			g.Key != w.Key || g.Nlink != w.Nlink || g.ListFailed != w.ListFailed || g.StatFailed != w.StatFailed || !g.Atime.IsZero() || g.Gen != 0 {
			t.Errorf("entry %d: %+v, want %+v", i, g, w)
		}
	}
	// Truncated part B (not whole version 1 records) is corrupt.
	if _, err := widenV1(make([]byte, recordLenV1+1)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("widenV1 of a partial record: %v", err)
	}
}
