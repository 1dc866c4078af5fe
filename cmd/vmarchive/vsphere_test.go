package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/index"
	"github.com/vmarchive/vmarchive/ingest/vsphere"
	"github.com/vmarchive/vmarchive/ingest/vsphere/vcsim"
)

const simPassword = "Cli-9c1d-never-show-me"

// TestVSphereConfigPrecedence: flags, then VMARCHIVE_* variables, then the
// config file, then govc's variables; a password in --vcenter is refused.
func TestVSphereConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	for _, k := range []string{"GOVC_URL", "GOVC_USERNAME", "GOVC_PASSWORD", "GOVC_INSECURE",
		"VMARCHIVE_VCENTER", "VMARCHIVE_VCENTER_USERNAME", "VMARCHIVE_VCENTER_PASSWORD", "VMARCHIVE_VCENTER_INSECURE"} {
		t.Setenv(k, "")
	}
	file := filepath.Join(dir, "config.yaml")
	os.WriteFile(file, []byte("vcenter: https://file/sdk\nvcenter-username: fileuser\nvcenter-password: filepw\nvcenter-insecure: false\n"), 0o600)
	load := func(t *testing.T, env map[string]string, args ...string) (vsphere.Config, error) {
		t.Helper()
		for k, val := range env {
			t.Setenv(k, val)
		}
		cmd := &cobra.Command{Use: "test"}
		cmd.Flags().String("config", "", "")
		vsphereConnFlags(cmd)
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		v := viper.New()
		if err := loadConfig(v, cmd); err != nil {
			t.Fatal(err)
		}
		return vsphereConfig(cmd, v)
	}
	govc := map[string]string{"GOVC_URL": "https://govc:pw@govc/sdk", "GOVC_USERNAME": "govcuser", "GOVC_PASSWORD": "govcpw", "GOVC_INSECURE": "1"}
	for _, tc := range []struct {
		name     string
		env      map[string]string
		args     []string
		url      string
		user, pw string
		pwFile   string
		insecure bool
	}{
		{"govc", govc, nil, "https://govc:pw@govc/sdk", "govcuser", "govcpw", "", true},
		{"config file over govc", govc, []string{"--config", file}, "https://file/sdk", "fileuser", "filepw", "", false},
		{"VMARCHIVE_ over config file", map[string]string{"VMARCHIVE_VCENTER": "https://env:pw@env/sdk", "VMARCHIVE_VCENTER_INSECURE": "true"},
			[]string{"--config", file}, "https://env:pw@env/sdk", "fileuser", "filepw", "", true},
		{"flags over all", map[string]string{"VMARCHIVE_VCENTER": "https://env/sdk"},
			[]string{"--config", file, "--vcenter", "https://bob@flag/sdk", "--vcenter-username", "flaguser", "--vcenter-password-file", "/pw", "--vcenter-insecure"},
			"https://bob@flag/sdk", "flaguser", "", "/pw", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := load(t, tc.env, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.URL != tc.url || cfg.Username != tc.user || cfg.Password != tc.pw || cfg.PasswordFile != tc.pwFile || cfg.Insecure != tc.insecure {
				t.Fatalf("got URL %q user %q password %q file %q insecure %v", cfg.URL, cfg.Username, cfg.Password, cfg.PasswordFile, cfg.Insecure)
			}
		})
	}
	t.Run("password in --vcenter", func(t *testing.T) {
		for _, u := range []string{"https://bob:" + simPassword + "@vc/sdk", "bob:" + simPassword + "@vc"} {
			_, err := load(t, nil, "--vcenter", u)
			if err == nil || strings.Contains(err.Error(), simPassword) || !strings.Contains(err.Error(), "GOVC_PASSWORD") {
				t.Fatalf("--vcenter %s: want a refusal pointing at GOVC_PASSWORD, without the password: %v", u, err)
			}
		}
	})
}

// TestVSphereIngestCLI runs `vmarchive ingest` against govmomi's simulator
// in this process: a password in --vcenter is refused without being
// shown; a user name in it with GOVC_PASSWORD, and GOVC_URL holding a
// password, both work; the new point's file index is built at ingest
// (not by find later) unless --no-index.
func TestVSphereIngestCLI(t *testing.T) {
	v1, _ := demoDisks(t)
	s, err := vcsim.Start(context.Background(), v1, t.TempDir(), vcsim.Options{Username: "backup", Password: simPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	repo := newRepo(t)
	host := s.URL.Host
	noGovc := []string{"GOVC_URL=", "GOVC_USERNAME=", "GOVC_PASSWORD=", "GOVC_INSECURE="}

	for _, args := range [][]string{
		{"ingest", "--vm", "web01", "--vcenter", "https://backup:" + simPassword + "@" + host + "/sdk", "--vcenter-insecure"},
		{"vsphere", "ls", "--vcenter", "backup:" + simPassword + "@" + host},
	} {
		r := run(t, repo, noGovc, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "GOVC_PASSWORD") || strings.Contains(r.stdout+r.stderr, simPassword) {
			t.Fatalf("%s: exit %d, want 2 and a refusal without the password:\n%s%s", args[:2], r.code, r.stdout, r.stderr)
		}
	}
	if r, _ := catalog.Open(context.Background(), repo, catalog.Options{Command: "test"}); r != nil {
		pts, _ := r.Points("")
		r.Close()
		if len(pts) != 0 {
			t.Fatalf("a refused ingest made %d points", len(pts))
		}
	}

	ingest := func(env []string, args ...string) *catalog.Manifest {
		t.Helper()
		r := run(t, repo, append(noGovc, env...), append([]string{"ingest", "--vm", "web01", "--json"}, args...)...)
		if r.code != 0 || strings.Contains(r.stdout+r.stderr, simPassword) {
			t.Fatalf("ingest %q: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		var ms []*catalog.Manifest
		if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil || len(ms) != 1 {
			t.Fatalf("ingest output: %v\n%s", err, r.stdout)
		}
		return ms[0]
	}
	m1 := ingest([]string{"GOVC_PASSWORD=" + simPassword, "GOVC_INSECURE=1"}, "--vcenter", "https://backup@"+host+"/sdk")
	// Points are named by the second: let the clock move on.
	time.Sleep(time.Until(m1.Time.Add(time.Second + 50*time.Millisecond)))
	m2 := ingest([]string{"GOVC_URL=https://backup:" + simPassword + "@" + host + "/sdk", "GOVC_INSECURE=true"}, "--no-index")

	r, err := catalog.Open(context.Background(), repo, catalog.Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		m    *catalog.Manifest
		want bool
	}{{m1, true}, {m2, false}} {
		if _, ok, err := r.Derived(catalog.NewPointID("web01", c.m.Time), index.DerivedName); err != nil || ok != c.want {
			t.Errorf("point %s: file index stored %v (%v), want %v", c.m.Name(), ok, err, c.want)
		}
	}
	r.Close()

	out := mustRun(t, repo, "find", "web01", "report.txt", "--point", m1.Name(), "--json")
	if !strings.Contains(out, "scsi0-0/p2/home/ann/Documents/report.txt") {
		t.Fatalf("find on the vSphere point: %s", out)
	}
}

// TestVSphereIngestThroughHolder: while another process holds the
// repository, a vSphere ingest runs inside it with the client's resolved
// settings (password read from the client's relative password file), not
// the holder's own environment, and no password on a command line or in
// the output.
func TestVSphereIngestThroughHolder(t *testing.T) {
	v1, _ := demoDisks(t)
	s, err := vcsim.Start(context.Background(), v1, t.TempDir(), vcsim.Options{Username: "backup", Password: simPassword, Link: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	repo := newRepo(t)
	r := holdRepo(t, repo)
	// The holder's own settings are wrong: they must not be used.
	t.Setenv("GOVC_URL", "https://nobody@127.0.0.1:1/sdk")
	t.Setenv("GOVC_PASSWORD", "holder-password")

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte(simPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ingest := func(pwfile string) result {
		cmd := exec.Command(vmarchiveBin(t), "ingest", "--vm", "web01", "--json",
			"--vcenter", "https://backup@"+s.URL.Host+"/sdk", "--vcenter-password-file", pwfile, "--vcenter-insecure")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "VMARCHIVE_REPO="+repo, "HOME="+t.TempDir(), "GOVC_URL=", "GOVC_PASSWORD=")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Run()
		return result{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
	}
	res := ingest("pw")
	if res.code != 0 || strings.Contains(res.stdout+res.stderr, simPassword) {
		t.Fatalf("forwarded vSphere ingest: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	var ms []*catalog.Manifest
	if err := json.Unmarshal([]byte(res.stdout), &ms); err != nil || len(ms) != 1 {
		t.Fatalf("ingest output: %v\n%s", err, res.stdout)
	}
	// The holder has the point, and the disk is the VM's.
	if p, err := r.Point("web01", "latest"); err != nil || p.Name() != ms[0].Name() {
		t.Fatalf("holder does not see the point: %v", err)
	}
	if got := catDisk(t, repo, "web01", ms[0].Name(), "scsi0-0"); !bytes.Equal(got, readFile(t, v1)) {
		t.Fatal("forwarded vSphere point differs from the VM's disk")
	}
	// A wrong password fails in the holder with exit 2 and is not shown.
	if err := os.WriteFile(filepath.Join(dir, "bad"), []byte("Wrong-b7e2-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res = ingest("bad")
	if res.code != 2 || strings.Contains(res.stdout+res.stderr, "Wrong-b7e2-password") || !strings.Contains(res.stderr, "log in") {
		t.Fatalf("forwarded ingest with a wrong password: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}
