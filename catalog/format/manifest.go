package format

import (
	"encoding/json"
	"fmt"
	"time"
)

// ManifestVersion is the version of the point manifests this build writes
// (2: Chunking, maps of format 2). Version 1 (ChunkSize, maps of format 1)
// is read as before.
const ManifestVersion = 2

// Manifest describes one recovery point of one VM. It is stored in the chunk
// store as points/<vm>/<time> and copied into the catalog, so the catalog can
// be rebuilt from the store alone.
type Manifest struct {
	Version   int          `json:"version"`
	VM        string       `json:"vm"`
	Time      time.Time    `json:"time"`                 // when the data was captured, UTC, whole seconds
	Created   time.Time    `json:"created"`              // when the point was committed
	ChunkSize int          `json:"chunk_size,omitempty"` // version 1
	Chunking  *Chunking    `json:"chunking,omitempty"`   // version 2
	Disks     []DiskRecord `json:"disks"`
	// Config holds captured VM configuration files (vmx, nvram, config.json)
	// by file name; each is a single stored blob.
	Config map[string]ConfigFile `json:"config,omitempty"`
	Source string                `json:"source,omitempty"` // "image", "vsphere"
}

// ConfigFile is one captured configuration file.
type ConfigFile struct {
	ID   ChunkID `json:"id"`
	Size int64   `json:"size"`
}

// MaxChunk is the largest plaintext of a data chunk of the point.
func (m *Manifest) MaxChunk() int {
	if m.Chunking != nil {
		return m.Chunking.Max
	}
	return m.ChunkSize
}

// DiskRecord is one disk of a point.
type DiskRecord struct {
	Name   string  `json:"name"`
	Size   int64   `json:"size"` // bytes
	Map    ChunkID `json:"map"`  // root block of the chunk map
	Source string  `json:"source,omitempty"`
	Format string  `json:"format,omitempty"`
	// ChangeID is the vSphere CBT change id the disk was read at.
	ChangeID string    `json:"change_id,omitempty"`
	Stats    DiskStats `json:"stats"`
}

// DiskStats records what the ingest of one disk did.
type DiskStats struct {
	Chunks      int64 `json:"chunks"`       // chunks in the disk
	ZeroChunks  int64 `json:"zero_chunks"`  // chunks that read as zeros
	ReadBytes   int64 `json:"read_bytes"`   // bytes read from the source
	NewChunks   int64 `json:"new_chunks"`   // chunks this point added to the store
	NewBytes    int64 `json:"new_bytes"`    // stored (compressed) bytes of those
	ReusedBytes int64 `json:"reused_bytes"` // plaintext bytes taken from an earlier point without reading
}

// Name is the point's name in the mount and on the command line.
func (m *Manifest) Name() string { return FormatPointTime(m.Time) }

// ID returns the point's ID.
func (m *Manifest) ID() PointID { return NewPointID(m.VM, m.Time) }

// DiskRef names the point's disk called name.
func (m *Manifest) DiskRef(name string) DiskRef { return DiskRef{PointID: m.ID(), Disk: name} }

// Disk returns the named disk.
func (m *Manifest) Disk(name string) (*DiskRecord, error) {
	for i := range m.Disks {
		if m.Disks[i].Name == name {
			return &m.Disks[i], nil
		}
	}
	return nil, fmt.Errorf("point %s has no disk %q: %w", m.ID(), name, ErrNotFound)
}

// ObjectName is the name of the manifest in the store.
func (m *Manifest) ObjectName() string { return m.ID().ObjectName() }

func (m *Manifest) Encode() ([]byte, error) { return json.MarshalIndent(m, "", " ") }

func DecodeManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest: %v: %w", err, ErrCorrupt)
	}
	if m.Version < 1 || m.Version > ManifestVersion {
		return nil, fmt.Errorf("manifest version %d, this build reads 1 to %d: %w", m.Version, ManifestVersion, ErrCorrupt)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) Validate() error {
	if err := ValidName("VM", m.VM); err != nil {
		return fmt.Errorf("manifest: %v: %w", err, ErrCorrupt)
	}
	switch {
	case m.Version == 1 && (m.ChunkSize < MinChunkSize || m.ChunkSize > MaxChunkSize || m.Chunking != nil):
		return fmt.Errorf("manifest %s/%s: chunk size %d: %w", m.VM, m.Name(), m.ChunkSize, ErrCorrupt)
	case m.Version == 2 && (m.Chunking == nil || m.ChunkSize != 0):
		return fmt.Errorf("manifest %s/%s: version 2 without chunking or with a chunk size: %w", m.VM, m.Name(), ErrCorrupt)
	case m.Version == 2:
		if err := m.Chunking.Validate(); err != nil {
			return fmt.Errorf("manifest %s/%s: %v: %w", m.VM, m.Name(), err, ErrCorrupt)
		}
	case m.Version != 1:
		return fmt.Errorf("manifest %s/%s: version %d: %w", m.VM, m.Name(), m.Version, ErrCorrupt)
	}
	for _, d := range m.Disks {
		if err := ValidName("disk", d.Name); err != nil {
			return fmt.Errorf("manifest %s/%s: %v: %w", m.VM, m.Name(), err, ErrCorrupt)
		}
		if d.Size < 0 || d.Size > MaxDiskSize {
			return fmt.Errorf("manifest %s/%s disk %s: size %d: %w", m.VM, m.Name(), d.Name, d.Size, ErrCorrupt)
		}
	}
	return nil
}
