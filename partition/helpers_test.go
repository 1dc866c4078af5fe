package partition

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// buildImage runs testimages/partition/<script> OUT args... and returns OUT.
func buildImage(t testing.TB, script string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(script, ".sh")+".img")
	cmd := exec.Command(filepath.Join("..", "testimages", "partition", script), append([]string{out}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, b)
	}
	return out
}

// run runs a command and returns its stdout, failing the test on error.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// openImage opens an image file and reads its table with Read.
func readImage(t testing.TB, path string) (*Table, *os.File) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	tab, err := Read(f, st.Size())
	if err != nil {
		t.Fatalf("Read %s: %v", path, err)
	}
	return tab, f
}

// gunzipFixture decompresses testdata/<name> into a temporary file.
func gunzipFixture(t testing.TB, name string) string {
	t.Helper()
	b := gunzip(t, filepath.Join("testdata", name))
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(name, ".gz"))
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func gunzip(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(z); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// oraclePart is one partition as an oracle tool reports it, in sectors.
type oraclePart struct {
	Index       int
	Start, Size int64 // sectors
	Type        string
	GUID        string
	Name        string
	Attrs       string
	Bootable    bool
}

// sfdiskJSON parses `sfdisk -J`.
func sfdiskJSON(t testing.TB, img string) (label, id string, parts []oraclePart) {
	t.Helper()
	var doc struct {
		PartitionTable struct {
			Label      string `json:"label"`
			ID         string `json:"id"`
			Partitions []struct {
				Node     string `json:"node"`
				Start    int64  `json:"start"`
				Size     int64  `json:"size"`
				Type     string `json:"type"`
				UUID     string `json:"uuid"`
				Name     string `json:"name"`
				Attrs    string `json:"attrs"`
				Bootable bool   `json:"bootable"`
			} `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal([]byte(run(t, "sfdisk", "-J", img)), &doc); err != nil {
		t.Fatalf("sfdisk -J %s: %v", img, err)
	}
	for _, p := range doc.PartitionTable.Partitions {
		idx, err := strconv.Atoi(strings.TrimPrefix(p.Node, img))
		if err != nil {
			t.Fatalf("sfdisk node %q: %v", p.Node, err)
		}
		parts = append(parts, oraclePart{Index: idx, Start: p.Start, Size: p.Size, Type: p.Type, GUID: p.UUID, Name: p.Name, Attrs: p.Attrs, Bootable: p.Bootable})
	}
	return doc.PartitionTable.Label, doc.PartitionTable.ID, parts
}

var mmlsRow = regexp.MustCompile(`^\d+:\s+(\d+)(?::(\d+))?\s+(\d+)\s+(\d+)\s+(\d+)\s+(.*)$`)

// mmls parses the partition rows of `mmls [args] img` (not Meta or
// unallocated rows). Indexes follow Linux: GPT slot+1; DOS table 0 entry+1,
// later tables (EBRs) numbered from 5 in order.
func mmls(t testing.TB, img string, args ...string) []oraclePart {
	t.Helper()
	var parts []oraclePart
	logical := 5
	for _, line := range strings.Split(run(t, "mmls", append(args, img)...), "\n") {
		m := mmlsRow.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		a, _ := strconv.Atoi(m[1])
		start, _ := strconv.ParseInt(m[3], 10, 64)
		size, _ := strconv.ParseInt(m[5], 10, 64)
		p := oraclePart{Start: start, Size: size, Name: m[6]}
		switch {
		case m[2] == "": // GPT: slot is the entry index
			p.Index = a + 1
		case a == 0:
			b, _ := strconv.Atoi(m[2])
			p.Index = b + 1
		default:
			p.Index = logical
			logical++
		}
		if m[2] != "" { // DOS: the description is the type, e.g. "Linux (0x83)"
			tm := regexp.MustCompile(`\(0x([0-9a-f]{2})\)$`).FindStringSubmatch(p.Name)
			if tm == nil {
				t.Fatalf("mmls row without a type: %q", line)
			}
			p.Type, p.Name = tm[1], ""
		}
		parts = append(parts, p)
	}
	return parts
}

// sgdiskInfo parses `sgdisk -i n img`.
func sgdiskInfo(t testing.TB, img string, n int) oraclePart {
	t.Helper()
	out := run(t, "sgdisk", "-i", strconv.Itoa(n), img)
	field := func(re string) string {
		m := regexp.MustCompile(`(?m)^` + re + `$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("sgdisk -i %d: no %q in\n%s", n, re, out)
		}
		return m[1]
	}
	first, _ := strconv.ParseInt(field(`First sector: (\d+) .*`), 10, 64)
	last, _ := strconv.ParseInt(field(`Last sector: (\d+) .*`), 10, 64)
	return oraclePart{
		Index: n,
		Start: first,
		Size:  last - first + 1,
		Type:  field(`Partition GUID code: (\S+) .*`),
		GUID:  field(`Partition unique GUID: (\S+)`),
		Attrs: field(`Attribute flags: ([0-9a-fA-F]+)`),
		Name:  field(`Partition name: '(.*)'`),
	}
}

// sgdiskDiskGUID parses the disk GUID from `sgdisk -p`.
func sgdiskDiskGUID(t testing.TB, img string) string {
	t.Helper()
	m := regexp.MustCompile(`Disk identifier \(GUID\): (\S+)`).FindStringSubmatch(run(t, "sgdisk", "-p", img))
	if m == nil {
		t.Fatalf("sgdisk -p %s: no disk GUID", img)
	}
	return m[1]
}

// fdiskTypeNames parses `fdisk [args] -l -o Device,Type img`: index -> name.
func fdiskTypeNames(t testing.TB, img string, args ...string) map[int]string {
	t.Helper()
	names := map[int]string{}
	out := run(t, "fdisk", append(args, "-l", "-o", "Device,Start,Type", img)...)
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, img) {
			continue
		}
		f := strings.Fields(line)
		idx, err := strconv.Atoi(strings.TrimPrefix(f[0], img))
		if err != nil || len(f) < 3 {
			continue
		}
		names[idx] = strings.Join(f[2:], " ")
	}
	return names
}

// byIndex finds the partition numbered idx.
func byIndex(tab *Table, idx int) *Partition {
	for i := range tab.Partitions {
		if tab.Partitions[i].Index == idx {
			return &tab.Partitions[i]
		}
	}
	return nil
}

// compareParts checks that tab holds exactly the partitions of want (the
// fields the oracle reports; empty ones are not compared).
func compareParts(t *testing.T, oracle string, tab *Table, want []oraclePart, skipExtended bool) {
	t.Helper()
	ss := int64(tab.SectorSize)
	n := 0
	for _, p := range tab.Partitions {
		if !(skipExtended && p.Extended) {
			n++
		}
	}
	if n != len(want) {
		t.Errorf("%s: %d partitions, we have %d: %+v", oracle, len(want), n, tab.Partitions)
	}
	for _, w := range want {
		p := byIndex(tab, w.Index)
		if p == nil {
			t.Errorf("%s: partition %d missing", oracle, w.Index)
			continue
		}
		if p.Start != w.Start*ss || p.Size != w.Size*ss {
			t.Errorf("%s: partition %d at %d+%d bytes, want %d+%d", oracle, w.Index, p.Start, p.Size, w.Start*ss, w.Size*ss)
		}
		if w.Type != "" && normType(p.Type) != normType(w.Type) {
			t.Errorf("%s: partition %d type %s, want %s", oracle, w.Index, p.Type, w.Type)
		}
		if w.GUID != "" && !strings.EqualFold(p.GUID, w.GUID) {
			t.Errorf("%s: partition %d GUID %s, want %s", oracle, w.Index, p.GUID, w.GUID)
		}
		if w.Name != "" && p.Name != w.Name {
			t.Errorf("%s: partition %d name %q, want %q", oracle, w.Index, p.Name, w.Name)
		}
	}
}

// normType writes MBR type bytes ("0x0c", "c", "0C") as two hex digits and
// GUIDs in upper case.
func normType(s string) string {
	if n, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 8); err == nil {
		return strconv.FormatUint(n, 16)
	}
	return strings.ToUpper(s)
}
