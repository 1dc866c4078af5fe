package fat

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// patchImage applies fn to the bytes of a copy of img.
func patchImage(t *testing.T, img string, fn func(b []byte)) string {
	t.Helper()
	p := copyImage(t, img)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	fn(b)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// findEntry returns the offset of the first 8.3 entry with this raw name
// (the root directory comes before subdirectories in these images).
func findEntry(t *testing.T, b []byte, raw string) int {
	t.Helper()
	i := bytes.Index(b, []byte(raw))
	if i < 0 || i%dirEntrySize != 0 {
		t.Fatalf("8.3 entry %q not found at an entry boundary", raw)
	}
	return i
}

// TestPatchedNames damages and rewrites long names in an image made by
// mtools, and compares with the tool that decodes each case right:
// TSK decodes surrogate pairs (mtools writes truncated UCS-2 for
// characters outside the BMP, so the pair is written here), mtools checks
// LFN checksums (TSK does not).
func TestPatchedNames(t *testing.T) {
	testenv.NeedTools(t, "fls", "mdir")
	for _, v := range []int{2, 4} { // a FAT16 and a FAT32 variant
		t.Run(imageVariants[v].name, func(t *testing.T) {
			pristine := buildImage(t, "mkimage.sh", imageVariants[v].args...)
			const astral = "emoji 😀 and 𝄞 clef.txt"
			img := patchImage(t, pristine, func(b []byte) {
				// Surrogate pairs: rewrite the two LFN slots before EMOJI_~1.TXT.
				e := findEntry(t, b, "EMOJI_~1TXT")
				units := append(utf16.Encode([]rune(astral)), 0)
				for len(units) < 2*lfnPerSlot {
					units = append(units, 0xFFFF)
				}
				pos := []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30}
				for seq := 1; seq <= 2; seq++ {
					slot := b[e-dirEntrySize*seq:]
					for i, p := range pos {
						binary.LittleEndian.PutUint16(slot[p:], units[(seq-1)*lfnPerSlot+i])
					}
				}
				// Checksum mismatch: ReadMe.txt's LFN no longer belongs to README.TXT.
				r := findEntry(t, b, "README  TXT")
				b[r-dirEntrySize+13] ^= 0xFF
				// Orphans: delete the 8.3 entry of thirteen_char, keep its LFN slots.
				b[findEntry(t, b, "THIRTE~1   ")] = entryDeleted
			})
			fs := openImage(t, img, nil)
			nodes := mustWalk(t, fs)
			top := map[string]bool{}
			for p := range nodes {
				if !strings.Contains(p, "/") {
					top[p] = true
				}
			}
			want := fls(t, img)
			if _, ok := want[astral]; !ok || !top[astral] {
				t.Errorf("surrogate pairs: fls has %q: %v; we have it: %v", astral, ok, top[astral])
			}
			mdir := mdirPaths(t, img)
			if !mdir["README.TXT"] || !top["README.TXT"] || top["ReadMe.txt"] {
				t.Errorf("checksum mismatch: mdir has README.TXT: %v; we have README.TXT %v, ReadMe.txt %v",
					mdir["README.TXT"], top["README.TXT"], top["ReadMe.txt"])
			}
			if mdir["thirteen_char"] || top["thirteen_char"] || top["THIRTE~1"] {
				t.Errorf("orphan LFN: mdir shows thirteen_char: %v, we: %v", mdir["thirteen_char"], top["thirteen_char"])
			}
			// Everything else agrees with both tools.
			for p := range top {
				if p == astral || p == "README.TXT" {
					continue
				}
				if _, ok := want[p]; !ok {
					t.Errorf("we list %q, fls does not", p)
				}
			}
			for p := range want {
				if !strings.Contains(p, "/") && p != "ReadMe.txt" && !top[p] {
					t.Errorf("fls lists %q, we do not", p)
				}
			}
		})
	}
}

// TestFATTypeByClusterCount writes a wrong BS_FilSysType label; the type
// and contents must not change (fsstat agrees).
func TestFATTypeByClusterCount(t *testing.T) {
	testenv.NeedTools(t, "fsstat")
	for _, tc := range []struct {
		variant int
		off     int64
		label   string
		want    string
	}{{2, 54, "FAT32   ", "fat16"}, {4, 82, "FAT12   ", "fat32"}, {0, 54, "FAT16   ", "fat12"}} {
		pristine := buildImage(t, "mkimage.sh", imageVariants[tc.variant].args...)
		img := patchImage(t, pristine, func(b []byte) { copy(b[tc.off:], tc.label) })
		fs := openImage(t, img, nil)
		if got := fs.Info().Type; got != tc.want || "fat"+strings.TrimPrefix(fsstat(t, img)["File System Type"], "FAT") != tc.want {
			t.Errorf("%s labelled %q: type %s, fsstat %s, want %s", imageVariants[tc.variant].name, tc.label, got, fsstat(t, img)["File System Type"], tc.want)
		}
		a, b := mustWalk(t, fs), mustWalk(t, openImage(t, pristine, nil))
		if len(a) != len(b) {
			t.Errorf("%s: %d names with a wrong label, %d without", imageVariants[tc.variant].name, len(a), len(b))
		}
	}
}

func TestESP(t *testing.T) {
	testenv.NeedTools(t, "fls", "mcopy", "fsstat")
	img := buildImage(t, "esp.sh")
	fs := openImage(t, img, nil)
	info := fs.Info()
	if info.Type != "fat32" || info.Label != "ESP" || info.UUID != "5EF1-C0DE" || info.ClusterSize != 512 {
		t.Errorf("info %+v", info)
	}
	nodes := mustWalk(t, fs)
	checkNamesFls(t, nodes, fls(t, img), 10)
	checkContentMcopy(t, fs, img, nodes, 10)
	// Firmware and Windows spell these paths in any case.
	for _, p := range []string{"EFI/BOOT/BOOTX64.EFI", "efi/boot/bootx64.efi", "EFI/Microsoft/Boot/BCD", "efi/MICROSOFT/boot/bootmgfw.EFI"} {
		e, err := resolve(fs, p)
		if err != nil {
			t.Errorf("resolve %s: %v", p, err)
			continue
		}
		if want := nodes[strings.Replace(strings.Replace(p, "efi/boot/bootx64.efi", "EFI/BOOT/BOOTX64.EFI", 1), "efi/MICROSOFT/boot/bootmgfw.EFI", "EFI/Microsoft/Boot/bootmgfw.efi", 1)]; e.Ino != want.Ino {
			t.Errorf("resolve %s: inode %d, want %d", p, e.Ino, want.Ino)
		}
	}
}

// TestConcurrentReads reads every file of an image from several goroutines
// at once, in odd-sized pieces, against mcopy's copies (run with -race).
func TestConcurrentReads(t *testing.T) {
	testenv.NeedTools(t, "mcopy")
	img := buildImage(t, "mkimage.sh", imageVariants[4].args...)
	want := t.TempDir()
	tool(t, "mcopy", "-s", "-n", "-i", img, "::*", want+"/")
	fs := openImage(t, img, nil)
	nodes := mustWalk(t, fs)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			fresh, err := walk(fs, 1<<20) // directories and FAT blocks shared through the caches
			if err != nil || len(fresh) != len(nodes) {
				t.Errorf("goroutine %d: walk: %d names, %v", g, len(fresh), err)
				return
			}
			for p, n := range nodes {
				if n.Mode&modeDir != 0 || (g%2 == 1 && strings.HasPrefix(p, "many/")) {
					continue
				}
				wb, _ := os.ReadFile(filepath.Join(want, p))
				f, err := fs.Open(n.Ino)
				if err != nil {
					t.Errorf("open %s: %v", p, err)
					continue
				}
				step := int64(1000 + 37*g)
				for off := int64(0); off < f.Size(); off += step {
					buf := make([]byte, step)
					k, _ := f.ReadAt(buf, off)
					if !bytes.Equal(buf[:k], wb[off:off+int64(k)]) {
						t.Errorf("goroutine %d: %s at %d differs", g, p, off)
						break
					}
				}
			}
		}(g)
	}
	wg.Wait()
}

// TestCreationCentiseconds sets DIR_CrtTimeTenth (which mtools leaves 0).
// It counts 10 ms units, 0..199, as Linux and TSK read it; istat shows
// whole seconds only (157 adds one second), so the seconds come from
// istat and the remainder is checked against the field.
func TestCreationCentiseconds(t *testing.T) {
	testenv.NeedTools(t, "fls", "istat")
	pristine := buildImage(t, "mkimage.sh", imageVariants[4].args...)
	for _, cs := range []byte{1, 157, 199} {
		img := patchImage(t, pristine, func(b []byte) { b[findEntry(t, b, "UPPER   TXT")+13] = cs })
		fs := openImage(t, img, nil)
		e, err := resolve(fs, "UPPER.TXT")
		if err != nil {
			t.Fatal(err)
		}
		a, err := fs.Stat(e.Ino)
		if err != nil {
			t.Fatal(err)
		}
		fields, _ := istat(t, img, fls(t, img)["UPPER.TXT"].ino)
		checkTime(t, "UPPER.TXT", "Created", fields["Created"], a.Crtime, time.Second)
		if frac := time.Duration(a.Crtime.Nanosecond()); frac != time.Duration(cs%100)*10*time.Millisecond {
			t.Errorf("%d centiseconds: creation time fraction %v", cs, frac)
		}
	}
}
