// Command vmarchive-vcsim runs govmomi's vCenter simulator with one VM whose
// disk is a real image, for demos of vSphere ingest:
//
//	GOVC_USERNAME=backup GOVC_PASSWORD=secret vmarchive-vcsim -disk web01.raw
//
// prints GOVC_URL=https://127.0.0.1:PORT/sdk and serves until killed. The
// image is linked into the datastore, so changing it changes the VM's
// disk. Credentials come from GOVC_USERNAME and GOVC_PASSWORD (defaults
// user/pass), never from the command line.
//
// The simulator has no changed block tracking; unless -cbt=false, this
// helper emulates it on the simulator side (ingest/vsphere/vcsim, cbt.go):
// each snapshot taken with tracking on records a digest of every 64 KiB
// block of the image under a new change id, and QueryChangedDiskAreas
// answers the blocks whose digest changed since the id asked about. It
// finds changes by content, not by tracking writes as ESXi does.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmarchive/vmarchive/ingest/vsphere/vcsim"
)

func main() {
	disk := flag.String("disk", "", "raw disk image to serve as the VM's disk (required)")
	vm := flag.String("vm", "web01", "VM name")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	dir := flag.String("dir", "", "datastore directory (default a temporary one)")
	cbt := flag.Bool("cbt", true, "emulate changed block tracking (the simulator has none)")
	flag.Parse()
	if *disk == "" {
		fmt.Fprintln(os.Stderr, "vmarchive-vcsim: -disk is required")
		os.Exit(2)
	}
	if err := run(*disk, *vm, *listen, *dir, *cbt); err != nil {
		fmt.Fprintln(os.Stderr, "vmarchive-vcsim:", err)
		os.Exit(1)
	}
}

func run(disk, vm, listen, dir string, cbt bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if dir == "" {
		d, err := os.MkdirTemp("", "vmarchive-vcsim-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	user, pass := os.Getenv("GOVC_USERNAME"), os.Getenv("GOVC_PASSWORD")
	if user == "" {
		user, pass = "user", "pass"
	}
	s, err := vcsim.Start(ctx, disk, dir, vcsim.Options{VM: vm, Username: user, Password: pass, Listen: listen, Link: true, CBT: cbt})
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Printf("GOVC_URL=%s\n", s.URL)
	os.Stdout.Sync()
	<-ctx.Done()
	return nil
}
