// Package api holds the typed requests that other vmarchive commands send
// to the process holding a repository (a mount, a long ingest, or
// `vmarchive serve`), and a small client for them. Package catalog/control
// carries them: HTTP on the repository's owner-only unix socket, POST
// /v1/run/{op} with the request as JSON, the operation's output streamed
// back.
//
// Each request is the parsed form of one command: its fields are the
// command's options (tag flag: the option's name), its arguments (tag
// arg: the position, or args: the rest) and what it must not put on a
// command line (passwords, vSphere settings). Fields tagged path are
// absolute file names, made so by the client, since the holder runs in
// another directory. The holder fills fields a request leaves out with
// the command's defaults, and refuses unknown fields.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/vmarchive/vmarchive/catalog/control"
	"github.com/vmarchive/vmarchive/ingest/vsphere"
)

// Request is one operation's typed request.
type Request interface {
	Op() string // the command, e.g. "forget", "key add"
}

// ops are the requests a holder serves, by Op.
var ops = map[string]func() Request{}

func register(f func() Request) { ops[f().Op()] = f }

// New returns an empty request for op, or an error naming an op no
// holder serves.
func New(op string) (Request, error) {
	f, ok := ops[op]
	if !ok {
		return nil, fmt.Errorf("%q is not an operation the holder runs", op)
	}
	return f(), nil
}

// Decode reads body into req (filled with defaults beforehand); unknown
// fields are an error.
func Decode(body []byte, req Request) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(req); err != nil {
		return fmt.Errorf("%s request: %w", req.Op(), err)
	}
	return nil
}

// Call sends req to the holder serving the control socket at path
// (catalog.ControlPath) and copies the operation's output to stdout and
// stderr; it returns its exit status (0 ok, 1 nothing found or damage,
// 2 error). With no holder the error is control.ErrNoServer.
func Call(ctx context.Context, path string, req Request, stdout, stderr io.Writer) (int, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return 0, fmt.Errorf("%s request: %w", req.Op(), err)
	}
	return control.Call(ctx, path, control.Request{Op: req.Op(), Body: b}, stdout, stderr)
}

func init() {
	for _, f := range []func() Request{
		func() Request { return new(Cat) }, func() Request { return new(Check) },
		func() Request { return new(Copy) }, func() Request { return new(Diff) },
		func() Request { return new(Find) }, func() Request { return new(Versions) },
		func() Request { return new(Forget) }, func() Request { return new(GC) },
		func() Request { return new(Ingest) }, func() Request { return new(KeyList) },
		func() Request { return new(KeyAdd) }, func() Request { return new(KeyRemove) },
		func() Request { return new(Lock) }, func() Request { return new(Mount) },
		func() Request { return new(Points) }, func() Request { return new(Stats) },
		func() Request { return new(TestRestore) }, func() Request { return new(Verify) },
		func() Request { return new(Timeline) }, func() Request { return new(NBD) },
		func() Request { return new(Restore) }, func() Request { return new(Scan) },
		func() Request { return new(Hashes) }, func() Request { return new(Export) },
		func() Request { return new(Usn) }, func() Request { return new(Deleted) },
	} {
		register(f)
	}
}

// VSphereSettings are the connection settings a vSphere ingest resolved
// in the client (password read, paths absolute); the holder uses these,
// never its own environment.
type VSphereSettings = vsphere.Config

// The requests, one per command (vmarchive help COMMAND says what each
// option does).
type (
	Cat struct {
		VM     string `json:"vm" flag:"vm"`
		Disk   string `json:"disk" flag:"disk"`
		Point  string `json:"point" flag:"point"`
		Output string `json:"output" flag:"output" path:"true"` // "" or "-": stdout
	}
	Check struct {
		ReadData       bool   `json:"read_data" flag:"read-data"`
		ReadDataSubset string `json:"read_data_subset" flag:"read-data-subset"`
		JSON           bool   `json:"json" flag:"json"`
	}
	Copy struct {
		From     string   `json:"from" flag:"from" path:"true"`
		To       string   `json:"to" flag:"to" path:"true"`
		VMs      []string `json:"vms" flag:"vm"`
		Latest   int      `json:"latest" flag:"latest"`
		DryRun   bool     `json:"dry_run" flag:"dry-run"`
		JSON     bool     `json:"json" flag:"json"`
		LockDays int      `json:"lock_days" flag:"lock-days"`
		NoLocks  bool     `json:"no_locks" flag:"no-locks"`
		// Password opens the repository the holder does not hold, when
		// it is encrypted.
		Password []byte `json:"password,omitempty"`
	}
	Diff struct {
		Args      []string `json:"args" args:"VM [A] B"`
		Disks     []string `json:"disks" flag:"disk"`
		Blocks    bool     `json:"blocks" flag:"blocks"`
		BlockSize int      `json:"block_size" flag:"block-size"`
		NoIndex   bool     `json:"no_index" flag:"no-index"`
		JSON      bool     `json:"json" flag:"json"`
	}
	Find struct {
		VM      string   `json:"vm" arg:"0"`
		Pattern string   `json:"pattern" arg:"1"`
		Points  []string `json:"points" flag:"point"`
		JSON    bool     `json:"json" flag:"json"`
	}
	Versions struct {
		VM   string `json:"vm" arg:"0"`
		Path string `json:"path" arg:"1"`
		Hash bool   `json:"hash" flag:"hash"`
		JSON bool   `json:"json" flag:"json"`
	}
	Forget struct {
		VM          string   `json:"vm" flag:"vm"`
		KeepLast    int      `json:"keep_last" flag:"keep-last"`
		KeepHourly  int      `json:"keep_hourly" flag:"keep-hourly"`
		KeepDaily   int      `json:"keep_daily" flag:"keep-daily"`
		KeepWeekly  int      `json:"keep_weekly" flag:"keep-weekly"`
		KeepMonthly int      `json:"keep_monthly" flag:"keep-monthly"`
		KeepYearly  int      `json:"keep_yearly" flag:"keep-yearly"`
		Points      []string `json:"points" flag:"point"`
		TZ          string   `json:"tz" flag:"tz"`
		Lock        bool     `json:"lock" flag:"lock"`
		DryRun      bool     `json:"dry_run" flag:"dry-run"`
		JSON        bool     `json:"json" flag:"json"`
	}
	GC struct {
		DryRun bool `json:"dry_run" flag:"dry-run"`
		JSON   bool `json:"json" flag:"json"`
	}
	Ingest struct {
		VM        string   `json:"vm" flag:"vm"`
		Disks     []string `json:"disks" args:"DISK=IMAGE..." path:"true"`
		PointTime string   `json:"point_time" flag:"point-time"`
		Changed   []string `json:"changed" flag:"changed" path:"true"`
		Format    string   `json:"format" flag:"format"`
		NoIndex   bool     `json:"no_index" flag:"no-index"`
		LockDays  int      `json:"lock_days" flag:"lock-days"`
		JSON      bool     `json:"json" flag:"json"`
		// vSphere: VCenter set means a vSphere ingest.
		VCenter     *VSphereSettings `json:"vcenter,omitempty"`
		Folder      string           `json:"folder" flag:"folder"`
		Quiesce     bool             `json:"quiesce" flag:"quiesce"`
		CBT         bool             `json:"cbt" flag:"cbt"`
		ParallelVMs int              `json:"parallel_vms" flag:"parallel-vms"`
		Streams     int              `json:"streams" flag:"streams"`
		BWLimit     string           `json:"bwlimit" flag:"bwlimit"`
		ViaVCenter  bool             `json:"via_vcenter" flag:"via-vcenter"`
	}
	KeyList struct {
		JSON bool `json:"json" flag:"json"`
	}
	KeyAdd struct {
		NewPassword []byte `json:"new_password"`
	}
	KeyRemove struct {
		ID string `json:"id" arg:"0"`
	}
	Lock struct {
		VM     string   `json:"vm" flag:"vm"`
		Points []string `json:"points" flag:"point"`
		Until  string   `json:"until" flag:"until"`
		Days   int      `json:"days" flag:"days"`
		JSON   bool     `json:"json" flag:"json"`
	}
	Mount struct {
		Mountpoint     string        `json:"mountpoint" arg:"0" path:"true"`
		AllowOther     bool          `json:"allow_other" flag:"allow-other"`
		ImageGroup     string        `json:"image_group" flag:"image-group"`
		FATUID         string        `json:"fat_uid" flag:"fat-uid"`
		FATGID         string        `json:"fat_gid" flag:"fat-gid"`
		FATUmask       string        `json:"fat_umask" flag:"fat-umask"`
		NTFSUID        string        `json:"ntfs_uid" flag:"ntfs-uid"`
		NTFSGID        string        `json:"ntfs_gid" flag:"ntfs-gid"`
		NTFSUmask      string        `json:"ntfs_umask" flag:"ntfs-umask"`
		Debug          bool          `json:"debug" flag:"debug"`
		Deleted        bool          `json:"deleted" flag:"deleted"`
		Refresh        time.Duration `json:"refresh" flag:"refresh"`
		ChunkCacheSize string        `json:"chunk_cache_size" flag:"chunk-cache-size"`
		ReadTimeout    time.Duration `json:"read_timeout" flag:"read-timeout"`
	}
	Points struct {
		VM   string `json:"vm" flag:"vm"`
		JSON bool   `json:"json" flag:"json"`
	}
	Stats struct {
		VMsOnly bool `json:"vms_only" flag:"vms-only"`
		JSON    bool `json:"json" flag:"json"`
	}
	TestRestore struct {
		VM     string `json:"vm" flag:"vm"`
		Point  string `json:"point" flag:"point"`
		Sample int    `json:"sample" flag:"sample"`
		JSON   bool   `json:"json" flag:"json"`
	}
	NBD struct {
		VM      string `json:"vm" flag:"vm"`
		Point   string `json:"point" flag:"point"`
		Disk    string `json:"disk" flag:"disk"`
		Listen  string `json:"listen" flag:"listen"` // unix:PATH (absolute) or tcp:HOST:PORT
		Overlay string `json:"overlay" flag:"overlay" path:"true"`
		Commit  bool   `json:"commit" flag:"commit"`
		// Readahead is a byte count ("32MiB"); 0 turns read-ahead off.
		Readahead string `json:"readahead" flag:"readahead"`
	}
	Restore struct {
		VM         string           `json:"vm" flag:"vm"`
		Point      string           `json:"point" flag:"point"`
		As         string           `json:"as" flag:"as"`
		Datastore  string           `json:"datastore" flag:"datastore"`
		Folder     string           `json:"folder" flag:"folder"`
		Pool       string           `json:"pool" flag:"pool"`
		NetworkMap []string         `json:"network_map" flag:"network-map"` // CAPTURED=TARGET
		PowerOn    bool             `json:"power_on" flag:"power-on"`
		Replace    bool             `json:"replace" flag:"replace"`
		JSON       bool             `json:"json" flag:"json"`
		VCenter    *VSphereSettings `json:"vcenter,omitempty"`
	}
	Scan struct {
		VM            string `json:"vm" arg:"0"`
		From          string `json:"from" flag:"from"`
		To            string `json:"to" flag:"to"`
		Rules         string `json:"rules" flag:"rules" path:"true"`
		FindLastClean bool   `json:"find_last_clean" flag:"find-last-clean"`
		JSON          bool   `json:"json" flag:"json"`
	}
	Hashes struct {
		VM     string `json:"vm" arg:"0"`
		Point  string `json:"point" arg:"1"`
		Algo   string `json:"algo" flag:"algo"`
		Format string `json:"format" flag:"format"`
	}
	Usn struct {
		VM    string `json:"vm" arg:"0"`
		Point string `json:"point" arg:"1"`
		Disk  string `json:"disk" flag:"disk"`
	}
	Deleted struct {
		VM      string `json:"vm" arg:"0"`
		Point   string `json:"point" arg:"1"`
		Disk    string `json:"disk" flag:"disk"`
		Volume  string `json:"volume" flag:"volume"`
		Extract string `json:"extract" flag:"extract"`
	}
	Export struct {
		VM     string   `json:"vm" flag:"vm"`
		Point  string   `json:"point" flag:"point"`
		Disk   string   `json:"disk" flag:"disk"`
		Format string   `json:"format" flag:"format"`
		Output string   `json:"output" flag:"output" path:"true"` // "" or "-": stdout
		Args   []string `json:"args" args:"[-]"`
		// Readahead is a byte count ("32MiB"); 0 turns read-ahead off.
		Readahead string `json:"readahead" flag:"readahead"`
	}
	Timeline struct {
		VM     string   `json:"vm" arg:"0"`
		From   string   `json:"from" flag:"from"`
		To     string   `json:"to" flag:"to"`
		Disks  []string `json:"disks" flag:"disk"`
		Path   string   `json:"path" flag:"path"`
		Format string   `json:"format" flag:"format"`
	}
	Verify struct {
		VM    string `json:"vm" flag:"vm"`
		Point string `json:"point" flag:"point"`
		JSON  bool   `json:"json" flag:"json"`
	}
)

func (*Cat) Op() string         { return "cat" }
func (*Check) Op() string       { return "check" }
func (*Copy) Op() string        { return "copy" }
func (*Diff) Op() string        { return "diff" }
func (*Find) Op() string        { return "find" }
func (*Versions) Op() string    { return "versions" }
func (*Forget) Op() string      { return "forget" }
func (*GC) Op() string          { return "gc" }
func (*Ingest) Op() string      { return "ingest" }
func (*KeyList) Op() string     { return "key list" }
func (*KeyAdd) Op() string      { return "key add" }
func (*KeyRemove) Op() string   { return "key remove" }
func (*Lock) Op() string        { return "lock" }
func (*Mount) Op() string       { return "mount" }
func (*Points) Op() string      { return "points" }
func (*Stats) Op() string       { return "stats" }
func (*TestRestore) Op() string { return "test-restore" }
func (*Verify) Op() string      { return "verify" }
func (*Timeline) Op() string    { return "timeline" }
func (*NBD) Op() string         { return "nbd" }
func (*Restore) Op() string     { return "restore" }
func (*Scan) Op() string        { return "scan" }
func (*Hashes) Op() string      { return "hashes" }
func (*Export) Op() string      { return "export" }
func (*Usn) Op() string         { return "usn" }
func (*Deleted) Op() string     { return "deleted" }
