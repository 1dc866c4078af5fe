package catalog

import "github.com/vmarchive/vmarchive/catalog/format"

// The repository's on-disk structures live in package format, apart from
// the logic that uses them (and so cheap to fuzz); these aliases keep them
// under catalog's name for callers.

type (
	ChunkID    = format.ChunkID
	PointID    = format.PointID
	DiskRef    = format.DiskRef
	Manifest   = format.Manifest
	DiskRecord = format.DiskRecord
	DiskStats  = format.DiskStats
	ConfigFile = format.ConfigFile
	Config     = format.Config
	Encoder    = format.Encoder
	Chunking   = format.Chunking
)

var (
	// ZeroID names a chunk (or a whole map block) that reads as zeros.
	ZeroID = format.ZeroID
	// ErrCorrupt marks damaged repository data.
	ErrCorrupt = format.ErrCorrupt
	// ErrNotFound marks a VM, point, disk or chunk that does not exist.
	ErrNotFound = format.ErrNotFound
)

const (
	FormatVersion    = format.FormatVersion
	ManifestVersion  = format.ManifestVersion
	SchemaVersion    = format.SchemaVersion
	MinChunkSize     = format.MinChunkSize
	MaxChunkSize     = format.MaxChunkSize
	DefaultChunkSize = format.DefaultChunkSize
	MaxDiskSize      = format.MaxDiskSize
	PointTimeFormat  = format.PointTimeFormat
)

// HashChunk returns the ID of data.
func HashChunk(data []byte) ChunkID { return format.HashChunk(data) }

// ParseChunkID parses the 64-digit hex form.
func ParseChunkID(s string) (ChunkID, error) { return format.ParseChunkID(s) }

// NewEncoder returns a chunk encoder (one per goroutine).
func NewEncoder() *Encoder { return format.NewEncoder() }

// NewPointID returns the ID of vm's point captured at t.
var NewPointID = format.NewPointID

// ParsePointID parses "vm/time".
var ParsePointID = format.ParsePointID

// FormatPointTime returns the name of the point captured at t.
var FormatPointTime = format.FormatPointTime

// ParsePointTime parses a point name or any RFC 3339 time.
var ParsePointTime = format.ParsePointTime

// CheckPointTime accepts t as the time of a new point captured at now
// (from format.MinPointTime to now plus format.MaxPointAhead).
var CheckPointTime = format.CheckPointTime

// ValidName checks a VM or disk name.
var ValidName = format.ValidName

// ValidDiskName checks the name of a disk of a new point (no reserved name).
var ValidDiskName = format.ValidDiskName

// ReservedDiskName says why a disk name collides in the mounted tree.
var ReservedDiskName = format.ReservedDiskName

// MountDiskName is a disk's name in the mounted tree.
var MountDiskName = format.MountDiskName

// CheckChunkSize accepts powers of two from 256 KiB to 4 MiB.
var CheckChunkSize = format.CheckChunkSize
