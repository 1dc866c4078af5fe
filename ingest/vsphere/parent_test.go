package vsphere

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	govmdk "github.com/vmware/govmomi/vmdk"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/format"
)

// TestBackupGovmomiBaseDisk: a base disk whose descriptor govmomi wrote
// (parentCID=00000000, createType "vmfs", no parentFileNameHint) is read:
// the API says it has no parent, and that is trusted over parentCID.
func TestBackupGovmomiBaseDisk(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	randomDisk(t, img, 4<<20)
	s := newSim(t, img, false)
	desc := govmdk.NewDescriptor(govmdk.Extent{Size: s.size / 512, Info: "web01-flat.vmdk"})
	desc.CID = 0x1a2b3c4d
	var text bytes.Buffer
	if err := desc.Write(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "parentCID=00000000") {
		t.Fatalf("govmomi's descriptor has no parentCID=00000000:\n%s", text.String())
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(s.flat), "web01.vmdk"), text.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	c := s.connect(t)
	repo := catalog.TestRepo(t)
	r := c.Backup(context.Background(), repo, findWeb01(t, c), Options{Clock: clock()})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if got := readBack(t, repo, r.Manifest, "scsi0-0"); !bytes.Equal(got, mustRead(t, s.flat)) {
		t.Fatal("point differs from the image")
	}
}

// TestBackupPreviousPointUnreadable: when the catalog cannot read the
// VM's latest point, the backup fails saying so instead of taking it for
// "no previous point" and silently reading the whole disk.
func TestBackupPreviousPointUnreadable(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	randomDisk(t, img, 4<<20)
	s := newSim(t, img, false)
	c := s.connect(t)
	repo := catalog.TestRepo(t)
	ctx := context.Background()
	r1 := c.Backup(ctx, repo, findWeb01(t, c), Options{Clock: clock()})
	if r1.Err != nil {
		t.Fatal(r1.Err)
	}
	// Damage the catalog's copy of that point's manifest.
	dir := repo.Dir()
	repo.Close()
	db, err := pebble.Open(filepath.Join(dir, "catalog"), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(format.PointKey("web01", r1.Manifest.Time), []byte("not a manifest"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	repo, err = catalog.Open(ctx, dir, catalog.Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	before := s.served.Load()
	r2 := c.Backup(ctx, repo, findWeb01(t, c), Options{Clock: func() time.Time { return r1.Manifest.Time.Add(time.Hour) }})
	if r2.Err == nil || !strings.Contains(r2.Err.Error(), "previous point") {
		t.Fatalf("backup with an unreadable previous point: %v, want an error naming it", r2.Err)
	}
	if n := s.served.Load() - before; n != 0 {
		t.Errorf("%d bytes of the disk read before failing", n)
	}
}

// TestHostileNamesQuoted: disk file names from vCenter with terminal
// control sequences and line breaks reach the log quoted, never raw.
func TestHostileNamesQuoted(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	randomDisk(t, img, 4<<20)
	s := newSim(t, img, false)
	c := s.connect(t)
	// SOAP's XML cannot carry ESC; it carries C1 controls (CSI) and CR/LF.
	evil := "ev\u009b2J\r\nfake log line.vmdk"
	// A disk whose "descriptor" is no descriptor: refused and logged.
	if err := os.WriteFile(filepath.Join(filepath.Dir(s.flat), evil), bytes.Repeat([]byte{0xeb}, 512), 0o644); err != nil {
		t.Fatal(err)
	}
	attachDisk(t, c, s.vmRef, 1, evil, flatBacking())
	var log logRecorder
	r := c.Backup(context.Background(), catalog.TestRepo(t), findWeb01(t, c), Options{Log: log.logf, Clock: clock()})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	n := 0
	for _, l := range log.lines {
		if strings.ContainsAny(l, "\u009b\r\n") {
			t.Errorf("raw control characters in log line %q", l)
		}
		n += strings.Count(l, `"[vmadata] disks/ev\u009b2J\r\nfake log line.vmdk"`) + strings.Count(l, `"disks/ev\u009b2J\r\nfake log line.vmdk"`)
	}
	if n < 2 {
		t.Errorf("the disk's name is not quoted in the log: %q", log.lines)
	}
}
