package vcsim

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// The simulator's NFC endpoint (ImportVApp leases) hashes an upload and
// keeps nothing. With Options.ImportNFC, an upload of a streamOptimized
// disk is written as ESXi would: decoded (by qemu-img, an implementation
// independent of the uploader's) into the -flat file of the disk the lease
// created, so a test reads the imported disk back through the datastore.

// serveNFC keeps the upload in a temporary file, lets the simulator record
// it, then decodes it into the target disk.
func (s *Sim) serveNFC(w http.ResponseWriter, r *http.Request) {
	tmp, err := os.CreateTemp(s.dsDir, ".nfc-*.vmdk")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := io.Copy(tmp, r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest) // the client went away
		return
	}
	flat, err := s.nfcTarget(path.Base(r.URL.Path))
	if err == nil {
		err = decodeVMDK(tmp.Name(), flat)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	tmp.Seek(0, io.SeekStart)
	r.Body = tmp
	simulator.ServeNFC(w, r)
}

// decodeVMDK converts a streamOptimized VMDK to the raw file flat.
func decodeVMDK(src, flat string) error {
	b, err := exec.Command("qemu-img", "convert", "-f", "vmdk", "-O", "raw", src, flat).CombinedOutput()
	if err != nil {
		return fmt.Errorf("qemu-img convert: %v: %s", err, b)
	}
	return nil
}

// nfcTarget finds the local -flat file of the one VM disk whose file is
// named name (the lease's TargetId).
func (s *Sim) nfcTarget(name string) (string, error) {
	m := s.Model.Map()
	ctx := s.Model.Service.Context
	var hits []string
	for _, e := range m.All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		m.WithLock(ctx, vm, func() {
			for _, d := range object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
				if fb, ok := d.GetVirtualDevice().Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
					if f := fb.GetVirtualDeviceFileBackingInfo().FileName; path.Base(f) == name {
						hits = append(hits, f)
					}
				}
			}
		})
	}
	if len(hits) != 1 {
		return "", fmt.Errorf("NFC upload %q: %d disks have that name", name, len(hits))
	}
	var dp object.DatastorePath
	if !dp.FromString(hits[0]) {
		return "", fmt.Errorf("disk file %q is not a datastore path", hits[0])
	}
	for _, e := range m.All("Datastore") {
		ds := e.(*simulator.Datastore)
		if ds.Name == dp.Datastore {
			return filepath.Join(ds.Summary.Url, strings.TrimSuffix(dp.Path, ".vmdk")+"-flat.vmdk"), nil
		}
	}
	return "", errors.New("datastore " + dp.Datastore + " not found")
}
