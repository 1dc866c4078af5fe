package usn

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// v2 is a USN_RECORD_V2 (winioctl.h) with a file attribute of ARCHIVE.
func v2(usn int64, ino uint64, t time.Time, reason uint32, name string) []byte {
	u := utf16.Encode([]rune(name))
	n := (60 + 2*len(u) + 7) &^ 7
	b := make([]byte, n)
	le := binary.LittleEndian
	le.PutUint32(b, uint32(n))
	le.PutUint16(b[4:], 2)
	le.PutUint64(b[8:], ino|1<<48)
	le.PutUint64(b[16:], 5|5<<48)
	le.PutUint64(b[24:], uint64(usn))
	le.PutUint64(b[32:], uint64(t.UnixNano()/100+116444736000000000))
	le.PutUint32(b[40:], reason)
	le.PutUint32(b[52:], 0x20)
	le.PutUint16(b[56:], uint16(2*len(u)))
	le.PutUint16(b[58:], 60)
	for i, c := range u {
		le.PutUint16(b[60+2*i:], c)
	}
	return b
}

// TestRun ingests an NTFS volume whose $Extend/$UsnJrnl:$J ntfscp wrote
// and an ext4 one, and checks the CSV: the NTFS journal's records in
// order, the ext4 volume passed over; a point without NTFS is ErrNone.
func TestRun(t *testing.T) {
	testenv.NeedTools(t, "mkntfs", "ntfscp", "mke2fs")
	dir := t.TempDir()
	win, lin, j := filepath.Join(dir, "win.img"), filepath.Join(dir, "lin.img"), filepath.Join(dir, "j")
	t1 := time.Date(2026, 11, 19, 8, 0, 0, 500, time.UTC)
	var b []byte
	for i, name := range []string{"a.txt", "b, \"quoted\".doc", "c.txt"} {
		b = append(b, v2(int64(len(b)), uint64(64+i), t1.Add(time.Duration(i)*time.Second), 0x80000100, name)...)
	}
	os.WriteFile(j, b, 0o644)
	for _, c := range [][]string{
		{"truncate", "-s", "8M", win}, {"mkntfs", "-q", "-F", "-f", win},
		{"ntfscp", "-f", "-N", "$J", win, j, "/$Extend/$UsnJrnl"},
		{"mke2fs", "-q", "-F", "-t", "ext4", lin, "2M"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	repo := catalog.TestRepo(t)
	m := ingestImages(t, repo, "vm1", win, lin)
	var out bytes.Buffer
	var warned []error
	n, err := Run(context.Background(), repo, m, "", &out, func(err error) { warned = append(warned, err) })
	if err != nil || n != 3 || len(warned) != 0 {
		t.Fatalf("Run: %d records, %v, warnings %v", n, err, warned)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{Header,
		{"disk0", "fs", "0", "2026-11-19T08:00:00.0000005Z", "64", "1", "5", "5", "FILE_CREATE|CLOSE", "0x20", "a.txt"},
		{"disk0", "fs", "72", "2026-11-19T08:00:01.0000005Z", "65", "1", "5", "5", "FILE_CREATE|CLOSE", "0x20", "b, \"quoted\".doc"},
		{"disk0", "fs", "168", "2026-11-19T08:00:02.0000005Z", "66", "1", "5", "5", "FILE_CREATE|CLOSE", "0x20", "c.txt"},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("CSV:\n%q\nwant\n%q", rows, want)
	}
	m2 := ingestImages(t, repo, "vm2", lin)
	if _, err := Run(context.Background(), repo, m2, "", &out, func(error) {}); !errors.Is(err, ErrNone) {
		t.Errorf("a point with ext4 only: %v, want ErrNone", err)
	}
}

func ingestImages(t *testing.T, repo *catalog.Repo, vm string, imgs ...string) *catalog.Manifest {
	t.Helper()
	var specs []ingest.DiskSpec
	for i, img := range imgs {
		d, err := image.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		specs = append(specs, ingest.DiskSpec{Name: fmt.Sprintf("disk%d", i), Disk: d, Source: img, Format: d.Format()})
	}
	m, err := ingest.Ingest(context.Background(), repo, ingest.Options{VM: vm, Time: time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC), SourceKind: "image"}, specs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
