package partition

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

func TestGPT(t *testing.T) {
	testenv.NeedTools(t, "sgdisk", "sfdisk", "mmls", "fdisk")
	img := buildImage(t, "gpt.sh")
	tab, _ := readImage(t, img)
	if tab.Scheme != "gpt" || tab.SectorSize != 512 || len(tab.Warnings) != 0 {
		t.Fatalf("got scheme %q, sector size %d, warnings %q", tab.Scheme, tab.SectorSize, tab.Warnings)
	}
	checkGPTOracles(t, img, tab)
	if d := sgdiskDiskGUID(t, img); tab.DiskGUID != d {
		t.Errorf("disk GUID %s, sgdisk says %s", tab.DiskGUID, d)
	}
	compareParts(t, "mmls", tab, mmls(t, img), false)
	names := fdiskTypeNames(t, img)
	for _, p := range tab.Partitions {
		if p.TypeName != names[p.Index] {
			t.Errorf("partition %d type name %q, fdisk says %q", p.Index, p.TypeName, names[p.Index])
		}
	}
}

// checkGPTOracles compares tab with sfdisk -J and sgdisk -i for every
// partition sfdisk lists.
func checkGPTOracles(t *testing.T, img string, tab *Table) {
	t.Helper()
	label, id, parts := sfdiskJSON(t, img)
	if label != "gpt" || !strings.EqualFold(id, tab.DiskGUID) {
		t.Errorf("sfdisk says label %s id %s; we have %s %s", label, id, tab.Scheme, tab.DiskGUID)
	}
	compareParts(t, "sfdisk -J", tab, parts, false)
	var info []oraclePart
	for _, sp := range parts {
		o := sgdiskInfo(t, img, sp.Index)
		info = append(info, o)
		p := byIndex(tab, sp.Index)
		if p == nil {
			continue
		}
		attrs, _ := strconv.ParseUint(o.Attrs, 16, 64)
		if p.Attributes != attrs || p.Bootable != (attrs&4 != 0) {
			t.Errorf("partition %d attributes %#x bootable %v, sgdisk says %s", p.Index, p.Attributes, p.Bootable, o.Attrs)
		}
		if p.Name != sp.Name {
			t.Errorf("partition %d name %q, sfdisk says %q", p.Index, p.Name, sp.Name)
		}
	}
	compareParts(t, "sgdisk -i", tab, info, false)
}

func TestMBR(t *testing.T) {
	testenv.NeedTools(t, "sfdisk", "mmls", "fdisk")
	img := buildImage(t, "mbr.sh")
	tab, _ := readImage(t, img)
	if tab.Scheme != "mbr" || tab.SectorSize != 512 || len(tab.Warnings) != 0 {
		t.Fatalf("got scheme %q, sector size %d, warnings %q", tab.Scheme, tab.SectorSize, tab.Warnings)
	}
	label, id, parts := sfdiskJSON(t, img)
	if label != "dos" || id != "0x"+tab.DiskGUID {
		t.Errorf("sfdisk says label %s id %s; we have %s %s", label, id, tab.Scheme, tab.DiskGUID)
	}
	compareParts(t, "sfdisk -J", tab, parts, false)
	for _, sp := range parts {
		p := byIndex(tab, sp.Index)
		if p == nil {
			continue
		}
		if p.Bootable != sp.Bootable {
			t.Errorf("partition %d bootable %v, sfdisk says %v", p.Index, p.Bootable, sp.Bootable)
		}
		if want := fmt.Sprintf("%s-%02x", strings.TrimPrefix(id, "0x"), sp.Index); p.GUID != want {
			t.Errorf("partition %d GUID %s, want PARTUUID %s", p.Index, p.GUID, want)
		}
		if p.Extended != (sp.Type == "5" || sp.Type == "f" || sp.Type == "85") {
			t.Errorf("partition %d type %s extended %v", p.Index, sp.Type, p.Extended)
		}
	}
	compareParts(t, "mmls", tab, mmls(t, img), true)
	names := fdiskTypeNames(t, img)
	for _, p := range tab.Partitions {
		if p.TypeName != names[p.Index] {
			t.Errorf("partition %d type name %q, fdisk says %q", p.Index, p.TypeName, names[p.Index])
		}
	}
}

// TestSector4096 reads tables written for 4096-byte sectors by fdisk -b 4096.
func TestSector4096(t *testing.T) {
	testenv.NeedTools(t, "fdisk", "mmls")
	t.Run("gpt", func(t *testing.T) {
		img := buildImage(t, "gpt4k.sh")
		tab, _ := readImage(t, img)
		if tab.Scheme != "gpt" || tab.SectorSize != 4096 || len(tab.Warnings) != 0 {
			t.Fatalf("got scheme %q, sector size %d, warnings %q", tab.Scheme, tab.SectorSize, tab.Warnings)
		}
		compareParts(t, "mmls -b 4096", tab, mmls(t, img, "-b", "4096"), false)
		compareParts(t, "fdisk -b 4096", tab, fdisk4k(t, img, tab), false)
	})
	t.Run("mbr", func(t *testing.T) {
		img := buildImage(t, "mbr4k.sh")
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		tab, err := ReadSectorSize(f, st.Size(), 4096)
		if err != nil {
			t.Fatal(err)
		}
		if tab.Scheme != "mbr" || tab.SectorSize != 4096 || len(tab.Warnings) != 0 {
			t.Fatalf("got scheme %q, sector size %d, warnings %q", tab.Scheme, tab.SectorSize, tab.Warnings)
		}
		compareParts(t, "mmls -b 4096", tab, mmls(t, img, "-b", "4096"), true)
		compareParts(t, "fdisk -b 4096", tab, fdisk4k(t, img, tab), false)
	})
}

// fdisk4k parses `fdisk -b 4096 -l` for the partitions and GUIDs. GPT rows
// are "dev start end type-uuid uuid name", DOS rows "dev start end id".
func fdisk4k(t *testing.T, img string, tab *Table) []oraclePart {
	cols := "Device,Start,End,Type-UUID,UUID,Name"
	if tab.Scheme == "mbr" {
		cols = "Device,Start,End,Id"
	}
	var parts []oraclePart
	for _, line := range strings.Split(run(t, "fdisk", "-b", "4096", "-l", "-o", cols, img), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], img) {
			continue
		}
		idx, _ := strconv.Atoi(strings.TrimPrefix(f[0], img))
		start, _ := strconv.ParseInt(f[1], 10, 64)
		end, _ := strconv.ParseInt(f[2], 10, 64)
		p := oraclePart{Index: idx, Start: start, Size: end - start + 1, Type: f[3]}
		if len(f) >= 5 {
			p.GUID, p.Name = f[4], strings.Join(f[5:], " ")
		}
		parts = append(parts, p)
	}
	return parts
}

func TestHybridMBR(t *testing.T) {
	testenv.NeedTools(t, "sgdisk", "sfdisk")
	img := buildImage(t, "hybrid.sh")
	tab, _ := readImage(t, img)
	if tab.Scheme != "gpt" || len(tab.Warnings) != 0 {
		t.Fatalf("got scheme %q, warnings %q", tab.Scheme, tab.Warnings)
	}
	checkGPTOracles(t, img, tab)
	// sgdisk -O:  "   1                  2048        18431   primary     0xEF"
	row := regexp.MustCompile(`(?m)^\s+(\d+)\s+(\*?)\s*(\d+)\s+(\d+)\s+primary\s+0x([0-9A-F]{2})$`)
	var want []oraclePart
	for _, m := range row.FindAllStringSubmatch(run(t, "sgdisk", "-O", img), -1) {
		if m[5] == "EE" {
			continue
		}
		idx, _ := strconv.Atoi(m[1])
		start, _ := strconv.ParseInt(m[3], 10, 64)
		end, _ := strconv.ParseInt(m[4], 10, 64)
		want = append(want, oraclePart{Index: idx, Start: start, Size: end - start + 1, Type: m[5]})
	}
	if len(want) != 2 {
		t.Fatalf("sgdisk -O shows %d hybrid entries, want 2", len(want))
	}
	compareParts(t, "sgdisk -O", &Table{SectorSize: 512, Partitions: tab.HybridMBR}, want, false)
}

// TestGPTBackup damages the primary GPT and expects the backup to be used,
// as sgdisk does (sgdisk -p then prints the backup's partitions).
func TestGPTBackup(t *testing.T) {
	testenv.NeedTools(t, "sgdisk", "sfdisk")
	for _, tc := range []struct{ mode, sgdiskSays string }{
		{"header", "Main header: ERROR"},
		{"entries", "Main partition table: ERROR"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			img := buildImage(t, "gpt-damaged.sh", tc.mode)
			out, _ := exec.Command("sgdisk", "-v", img).CombinedOutput()
			if !strings.Contains(string(out), tc.sgdiskSays) {
				t.Fatalf("sgdisk -v does not report %q:\n%s", tc.sgdiskSays, out)
			}
			tab, _ := readImage(t, img)
			if len(tab.Warnings) != 1 || !strings.Contains(tab.Warnings[0], "primary GPT damaged") {
				t.Errorf("warnings %q, want one about the primary GPT", tab.Warnings)
			}
			if d := sgdiskDiskGUID(t, img); tab.DiskGUID != d {
				t.Errorf("disk GUID %s, sgdisk says %s", tab.DiskGUID, d)
			}
			var info []oraclePart
			for _, p := range tab.Partitions {
				info = append(info, sgdiskInfo(t, img, p.Index))
			}
			compareParts(t, "sgdisk -i", tab, info, false)
			if len(info) != 6 {
				t.Errorf("%d partitions, gpt.sh makes 6", len(info))
			}
		})
	}
}

// TestNoTable reads bare filesystems, which have no partition table.
func TestNoTable(t *testing.T) {
	testenv.NeedTools(t, "mkfs.fat", "mke2fs", "mkntfs", "blkid")
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		mkfs []string
	}{
		{"fat", []string{"mkfs.fat", "-F", "16"}},
		{"ext4", []string{"mke2fs", "-q", "-t", "ext4"}},
		{"ntfs", []string{"mkntfs", "-q", "-F", "-f"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := filepath.Join(dir, tc.name+".img")
			if err := os.WriteFile(img, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(img, 32<<20); err != nil {
				t.Fatal(err)
			}
			run(t, tc.mkfs[0], append(tc.mkfs[1:], img)...)
			// The oracle: blkid sees a filesystem and no partition table.
			out := run(t, "blkid", "-p", "-o", "export", img)
			if !strings.Contains(out, "USAGE=filesystem") || strings.Contains(out, "PTTYPE=") {
				t.Fatalf("blkid -p on a bare %s:\n%s", tc.name, out)
			}
			tab, _ := readImage(t, img)
			if tab.Scheme != "none" || len(tab.Partitions) != 0 {
				t.Errorf("scheme %q with %d partitions, want none", tab.Scheme, len(tab.Partitions))
			}
		})
	}
}

// patch writes b at off in the image file.
func patch(t *testing.T, img string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func le32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

// TestDamaged breaks real images in ways that must not hang, over-allocate
// or be trusted silently.
func TestDamaged(t *testing.T) {
	testenv.NeedTools(t, "sgdisk", "sfdisk")
	read := func(t *testing.T, img string) (*Table, error) {
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		return Read(f, st.Size())
	}
	t.Run("EBR loop", func(t *testing.T) {
		img := buildImage(t, "mbr.sh")
		// The third EBR (sector 51200) links back to the first (26624),
		// relative to the extended partition at 26624.
		patch(t, img, 51200*512+mbrTableOff+16+8, le32(0))
		tab, err := read(t, img)
		if err != nil {
			t.Fatal(err)
		}
		if len(tab.Partitions) != 7 || !strings.Contains(strings.Join(tab.Warnings, "\n"), "loops back") {
			t.Errorf("%d partitions, warnings %q; want 7 and a loop warning", len(tab.Partitions), tab.Warnings)
		}
	})
	t.Run("beyond disk", func(t *testing.T) {
		img := buildImage(t, "mbr.sh")
		patch(t, img, mbrTableOff+3*16+12, le32(1<<30)) // partition 4: 512 GiB
		tab, err := read(t, img)
		if err != nil {
			t.Fatal(err)
		}
		p := byIndex(tab, 4)
		if p == nil || p.Start+p.Size != 64<<20 || len(tab.Warnings) != 1 || !strings.Contains(tab.Warnings[0], "beyond the end of the disk") {
			t.Errorf("partition 4 %+v, warnings %q", p, tab.Warnings)
		}
	})
	t.Run("overlap", func(t *testing.T) {
		img := buildImage(t, "mbr.sh")
		patch(t, img, mbrTableOff+16+8, le32(4096)) // partition 2 into partition 1
		tab, err := read(t, img)
		if err != nil {
			t.Fatal(err)
		}
		_, _, parts := sfdiskJSON(t, img)
		compareParts(t, "sfdisk -J", tab, parts, false)
		if len(tab.Warnings) != 1 || !strings.Contains(tab.Warnings[0], "partitions 1 and 2 overlap at byte 2097152") {
			t.Errorf("warnings %q", tab.Warnings)
		}
	})
	t.Run("absurd entry count", func(t *testing.T) {
		img := buildImage(t, "gpt.sh")
		for _, lba := range []int64{1, 64<<20/512 - 1} {
			hdr := readSector(t, img, lba)
			copy(hdr[80:], le32(1<<31)) // NumEntries
			fixHeaderCRC(hdr)
			patch(t, img, lba*512, hdr)
		}
		_, err := read(t, img)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "exceed") {
			t.Errorf("got %v, want ErrCorrupt about the entry count", err)
		}
	})
	t.Run("both GPT headers", func(t *testing.T) {
		img := buildImage(t, "gpt.sh")
		patch(t, img, 512+16, []byte{1, 2, 3, 4})        // primary header CRC
		patch(t, img, 64<<20-512+16, []byte{1, 2, 3, 4}) // backup header CRC
		_, err := read(t, img)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "at byte 512") || !strings.Contains(err.Error(), fmt.Sprint("at byte ", 64<<20-512)) {
			t.Errorf("got %v, want ErrCorrupt naming both headers", err)
		}
	})
	t.Run("stale GPT behind an MBR", func(t *testing.T) {
		img := buildImage(t, "gpt.sh")
		cmd := exec.Command("sfdisk", "--quiet", "--wipe", "never", "--no-reread", "--no-tell-kernel", img)
		cmd.Stdin = strings.NewReader("label: dos\nstart=2048, size=8192, type=83\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sfdisk: %v\n%s", err, out)
		}
		tab, err := read(t, img)
		if err != nil {
			t.Fatal(err)
		}
		label, _, parts := sfdiskJSON(t, img)
		if label != "dos" || tab.Scheme != "mbr" || len(tab.Warnings) != 1 || !strings.Contains(tab.Warnings[0], "GPT ignored") {
			t.Errorf("scheme %s (sfdisk: %s), warnings %q", tab.Scheme, label, tab.Warnings)
		}
		compareParts(t, "sfdisk -J", tab, parts, false)
	})
	t.Run("protective MBR without GPT", func(t *testing.T) {
		img := buildImage(t, "gpt.sh")
		patch(t, img, 512, make([]byte, 512))
		patch(t, img, 64<<20-512, make([]byte, 512))
		_, err := read(t, img)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "protective") {
			t.Errorf("got %v, want ErrCorrupt about the protective MBR", err)
		}
	})
}

func readSector(t *testing.T, img string, lba int64) []byte {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 512)
	if _, err := f.ReadAt(b, lba*512); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSeedFixtures checks the committed fuzz-seed disks against the oracles,
// so the seeds are known-good tables.
func TestSeedFixtures(t *testing.T) {
	testenv.NeedTools(t, "sfdisk", "mmls", "sgdisk")
	for _, tc := range []struct {
		name, scheme string
		ss           int
	}{
		{"mbr-small", "mbr", 512},
		{"gpt-small", "gpt", 512},
		{"hybrid-small", "gpt", 512},
		{"gpt4k-small", "gpt", 4096},
		{"mbr-empty-small", "mbr", 512}, // no entry: guestfs probes the whole disk
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := gunzipFixture(t, tc.name+".img.gz")
			tab, _ := readImage(t, img)
			if tab.Scheme != tc.scheme || tab.SectorSize != tc.ss || len(tab.Warnings) != 0 {
				t.Fatalf("scheme %s, %d-byte sectors, warnings %q", tab.Scheme, tab.SectorSize, tab.Warnings)
			}
			switch {
			case tc.ss == 4096:
				compareParts(t, "mmls -b 4096", tab, mmls(t, img, "-b", "4096"), false)
			case tc.scheme == "gpt":
				checkGPTOracles(t, img, tab)
			default:
				_, _, parts := sfdiskJSON(t, img)
				compareParts(t, "sfdisk -J", tab, parts, false)
				if len(parts) > 0 { // mmls refuses a DOS table with no entry
					compareParts(t, "mmls", tab, mmls(t, img), true)
				}
			}
		})
	}
}
