package vsphere

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// CapturedConfig is a point's config.json: the VM's vSphere name, its
// managed object id and its configuration as of the snapshot. Objects carry
// VMOMI type names ("_typeName"), so devices and backings decode back to
// their types (ParseConfigJSON); points captured before that have none.
type CapturedConfig struct {
	Name   string                          `json:"name"`
	Ref    string                          `json:"ref"`
	Config *types.VirtualMachineConfigInfo `json:"config"`
}

// ConfigJSON encodes a captured configuration as config.json.
func ConfigJSON(name, ref string, cfg *types.VirtualMachineConfigInfo) ([]byte, error) {
	var buf bytes.Buffer
	enc := types.NewJSONEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(CapturedConfig{Name: name, Ref: ref, Config: cfg}); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return buf.Bytes(), nil
}

// ErrUntypedConfig marks a config.json written before it kept type names:
// its devices cannot be told apart.
var ErrUntypedConfig = errors.New("config.json has no device types (captured by an older vmarchive): capture a new point to restore this VM")

// ParseConfigJSON decodes config.json.
func ParseConfigJSON(b []byte) (*CapturedConfig, error) {
	if !bytes.Contains(b, []byte(`"_typeName"`)) {
		return nil, ErrUntypedConfig
	}
	var c CapturedConfig
	if err := types.NewJSONDecoder(bytes.NewReader(b)).Decode(&c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	if c.Config == nil {
		return nil, errors.New("config.json holds no configuration")
	}
	return &c, nil
}

// DiskName is the archive name of disk d among devices (see diskName).
func DiskName(devices []types.BaseVirtualDevice, d *types.VirtualDisk) string {
	return diskName(object.VirtualDeviceList(devices), d)
}
