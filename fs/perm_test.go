package fs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// asNobody runs cmd as uid and gid 65534 with no supplementary groups.
func asNobody(cmd ...string) error {
	c := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--"}, cmd...)...)
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// permRepo holds a point with configuration, an ext4 disk (the reference
// tree), a FAT disk and an NTFS disk, each holding a file.
func permRepo(t *testing.T) *catalog.Repo {
	t.Helper()
	testenv.NeedTools(t, "setpriv", "mkfs.fat", "mcopy", "mkntfs")
	_, ext := refDisk(t, "1")
	dir := t.TempDir()
	fatImg, ntfsImg, secret := filepath.Join(dir, "fat.raw"), filepath.Join(dir, "ntfs.raw"), filepath.Join(dir, "secret.txt")
	for _, img := range []string{fatImg, ntfsImg} {
		if err := os.WriteFile(img, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, 16<<20); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(secret, []byte("a FAT file\n"), 0o600)
	sh(t, "mkfs.fat", "-F", "16", fatImg)
	sh(t, "mcopy", "-i", fatImg, secret, "::/secret.txt")
	sh(t, "mkntfs", "-Q", "-F", "-q", ntfsImg)
	r := catalog.TestRepo(t)
	var specs []ingest.DiskSpec
	for _, d := range [][2]string{{"disk0", ext}, {"disk1", fatImg}, {"disk2", ntfsImg}} {
		img, err := image.Open(d[1])
		if err != nil {
			t.Fatal(err)
		}
		defer img.Close()
		specs = append(specs, ingest.DiskSpec{Name: d[0], Disk: img, Source: d[1], Format: img.Format()})
	}
	_, err := ingest.Ingest(context.Background(), r, ingest.Options{VM: "web01", Time: t0,
		Config: map[string][]byte{"web01.vmx": []byte("guestOS = \"other\"\n")}}, specs)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestOtherUserReadsOnlyGuestFiles: with allow_other, uid 65534 reads a
// guest file its guest mode allows, but no raw image (disk, partition or
// filesystem), no configuration, no volumes.txt, and no FAT or NTFS file
// (they have no owners: the mounting user's, umask 077). --image-group
// and --fat-umask open exactly what they name.
func TestOtherUserReadsOnlyGuestFiles(t *testing.T) {
	r := permRepo(t)
	mnt, srv := mountRepo(t, r, Options{AllowOther: true})
	os.Chmod(filepath.Dir(mnt), 0o755)
	p := filepath.Join(mnt, "web01", "latest")
	if err := asNobody("cat", filepath.Join(p, "disk0/p1/etc/hostname")); err != nil {
		t.Fatalf("a world-readable guest file: %v", err)
	}
	private := []string{"disk0.img", "disk0/p1.img", "disk1.img", "disk1/fs.img", "disk0/volumes.txt", "config/web01.vmx", "disk1/fs/secret.txt", "disk0/p1/etc/shadow"}
	for _, f := range private {
		if err := asNobody("cat", filepath.Join(p, f)); err == nil || !strings.Contains(err.Error(), "Permission denied") {
			t.Errorf("uid 65534 read %s: %v", f, err)
		}
	}
	for _, d := range []string{"config", "disk2/fs"} {
		if err := asNobody("ls", filepath.Join(p, d)); err == nil || !strings.Contains(err.Error(), "Permission denied") {
			t.Errorf("uid 65534 listed %s: %v", d, err)
		}
	}
	// The mounting user (root here, who would pass anyway) owns them.
	for f, want := range map[string]os.FileMode{"disk0.img": 0o400, "config": os.ModeDir | 0o500, "disk1/fs/secret.txt": 0o700} {
		if fi, err := os.Stat(filepath.Join(p, f)); err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, mode %v, want %v", f, err, fi.Mode(), want)
		}
	}
	srv.Unmount()

	gid := uint32(65534)
	mnt, _ = mountRepo(t, r, Options{AllowOther: true, ImageGroup: &gid, FAT: &Owner{Uid: 0, Gid: 0, Umask: 0o022}})
	os.Chmod(filepath.Dir(mnt), 0o755)
	p = filepath.Join(mnt, "web01", "latest")
	for _, f := range []string{"disk0.img", "disk0/p1.img", "config/web01.vmx", "disk1/fs/secret.txt"} {
		if err := asNobody("cat", filepath.Join(p, f)); err != nil {
			t.Errorf("with the image group and FAT umask 022: %s: %v", f, err)
		}
	}
	if err := asNobody("cat", filepath.Join(p, "disk0/p1/etc/shadow")); err == nil {
		t.Error("the image group read etc/shadow through the tree")
	}
	if err := asNobody("ls", filepath.Join(p, "disk2/fs")); err == nil {
		t.Error("FAT's umask opened NTFS")
	}
}
