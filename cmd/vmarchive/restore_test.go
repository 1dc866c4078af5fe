package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/ingest/vsphere/vcsim"
	"github.com/vmarchive/vmarchive/internal/testenv"
	rvs "github.com/vmarchive/vmarchive/restore/vsphere"
)

// TestVSphereRestoreCLI runs `vmarchive restore` against govmomi's simulator: the
// new VM's disk is the captured one; a taken name, an unknown datastore, a
// malformed --network-map and a password in --vcenter are refused with exit
// 2 and a message naming them; the password, given in GOVC_PASSWORD, is in
// no output.
func TestVSphereRestoreCLI(t *testing.T) {
	testenv.NeedTools(t, "qemu-img")
	img := filepath.Join(t.TempDir(), "web01.raw")
	data := make([]byte, 2<<20)
	rand.NewChaCha8([32]byte{3}).Read(data[:1<<20]) // the second MiB stays zeros
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := vcsim.Start(context.Background(), img, filepath.Join(t.TempDir(), "ds"), vcsim.Options{Username: "backup", Password: simPassword, ImportNFC: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	repo := newRepo(t)
	env := []string{"GOVC_URL=https://backup@" + s.URL.Host + "/sdk", "GOVC_PASSWORD=" + simPassword, "GOVC_INSECURE=1", "GOVC_USERNAME="}
	check := func(code int, want string, args ...string) result {
		t.Helper()
		r := run(t, repo, env, args...)
		if r.code != code || !strings.Contains(r.stdout+r.stderr, want) || strings.Contains(r.stdout+r.stderr, simPassword) {
			t.Fatalf("%q: exit %d, want %d and %q without the password:\n%s%s", args, r.code, code, want, r.stdout, r.stderr)
		}
		return r
	}
	check(0, "created from vSphere", "ingest", "--vm", "web01")
	r := check(0, "web01-r", "restore", "--vm", "web01", "--as", "web01-r", "--json")
	var res rvs.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || len(res.Disks) != 1 {
		t.Fatalf("restore output: %v\n%s", err, r.stdout)
	}
	// Sent: the data's grains (random, so as big compressed), the 64 KiB
	// header area VMware's writers leave, markers and tables.
	if d := res.Disks[0]; d.Data != 1<<20 || d.Sent > d.Data+128<<10 {
		t.Errorf("disk %+v: want 1 MiB of data sent, not the zeros", d)
	}
	flat, err := os.ReadFile(filepath.Join(s.DatastoreDir(), "web01-r", "web01-r-flat.vmdk"))
	if err != nil || !bytes.Equal(flat, data) {
		t.Fatalf("restored disk differs from the VM's (%v)", err)
	}
	check(2, "--replace", "restore", "--vm", "web01", "--as", "web01-r")
	check(2, `datastore "nosuch-ds" not found`, "restore", "--vm", "web01", "--as", "web01-x", "--datastore", "nosuch-ds")
	check(2, `--network-map "VM Network": want CAPTURED=TARGET`, "restore", "--vm", "web01", "--as", "web01-x", "--network-map", "VM Network")
	check(2, "GOVC_PASSWORD", "restore", "--vm", "web01", "--as", "web01-x", "--vcenter", "https://backup:"+simPassword+"@"+s.URL.Host+"/sdk")
	// With the password in a file: not in any argv or environment of the
	// process tree while it runs, nor in the output or the repository.
	var shown bytes.Buffer
	env = []string{"GOVC_URL=https://backup@" + s.URL.Host + "/sdk", "GOVC_PASSWORD=", "GOVC_INSECURE=1", "GOVC_USERNAME="}
	watchRun(t, repo, env, &shown, []string{simPassword}, "restore", "--vm", "web01", "--as", "web01-r", "--replace",
		"--vcenter-password-file", pwFile(t, simPassword))
	if !strings.Contains(shown.String(), `as VM "web01-r"`) || strings.Contains(shown.String(), simPassword) {
		t.Fatalf("restore --replace with a password file:\n%s", shown.String())
	}
	grepTree(t, repo, simPassword)
}
