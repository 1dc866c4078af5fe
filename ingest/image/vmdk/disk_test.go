package vmdk

import (
	"errors"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// TestRefusedDescriptors checks the descriptors qemu-img cannot make but
// vSphere hands out are refused clearly, before any extent is opened.
func TestRefusedDescriptors(t *testing.T) {
	opened := false
	open := func(name string) (vdisk.SourceCloser, error) {
		opened = true
		return nil, errors.New("must not be called")
	}
	tests := []struct{ desc, want string }{
		{"createType=\"seSparse\"\nRW 8 SESPARSE \"a-sesparse.vmdk\"\n", "createType \"seSparse\""},
		{"createType=\"vsanSparse\"\nRW 8 VSANSPARSE \"a.vmdk\"\n", "createType \"vsanSparse\""},
		{"createType=\"vmfsSparse\"\nparentCID=ffffffff\nRW 8 VMFSSPARSE \"a-delta.vmdk\"\n", "createType \"vmfsSparse\""},
		{"createType=\"vmfs\"\nparentCID=1234abcd\nparentFileNameHint=\"base.vmdk\"\nRW 8 VMFS \"a-flat.vmdk\"\n", "parentCID 1234abcd"},
		{"createType=\"vmfsRawDeviceMap\"\nRW 8 VMFSRDM \"a-rdm.vmdk\"\n", "vmfsRawDeviceMap"},
		{"createType=\"custom\"\nRW 8 VMFSRDM \"a-rdm.vmdk\"\n", "VMFSRDM"},
		{"createType=\"custom\"\nNOACCESS 8 FLAT \"a.bin\" 0\n", "NOACCESS"},
	}
	for _, tc := range tests {
		b := vdisk.Bytes("# Disk DescriptorFile\nversion=1\n" + tc.desc)
		_, err := Open(b, "x.vmdk", open)
		if !errors.Is(err, vdisk.ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want ErrUnsupported mentioning %q", tc.desc, err, tc.want)
		}
	}
	if opened {
		t.Error("an extent file was opened for a refused descriptor")
	}
}
