package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/fs/tree"
	"github.com/vmarchive/vmarchive/guestfs"
)

// Archive is what the tree reads; *catalog.Repo implements it.
type Archive = tree.Archive

// Options configure a mount.
type Options struct {
	// AllowOther lets other users in; the guest's modes are then enforced
	// by the kernel (default_permissions).
	AllowOther bool
	// Logger receives errors (each distinct one once); nil discards them.
	Logger *log.Logger
	// ImageGroup, if set, may read what otherwise only the mounting user
	// may: raw images, configuration, volumes.txt and comparison reports.
	ImageGroup *uint32
	// FAT and NTFS give the files of these filesystems, which carry no
	// Unix owners, an owner and umask. nil: the mounting user and group,
	// umask 077 with AllowOther, else 022. Guest's own FAT and NTFS
	// options, if set, win.
	FAT, NTFS *Owner
	// Guest passes options to the guest filesystem readers.
	Guest *guestfs.Options
	// Deleted shows the deleted files of each ext2/3/4 and NTFS guest
	// filesystem in a hidden .deleted/ at its root (deleted.go). A guest
	// root entry of that name is then not reachable.
	Deleted bool
	// Debug logs every FUSE request.
	Debug bool
	// ReadTimeout bounds one read from the archive (default 1 minute): a
	// stalled backend gives EIO on the file being read, not a hung reader.
	ReadTimeout time.Duration
	// Counters, if set, counts the bytes read through the mount and the
	// reads that failed (for a service's metrics).
	Counters *Counters
}

// Counters are running totals of a mount's reads of files and images.
type Counters struct {
	ReadBytes  atomic.Int64
	ReadErrors atomic.Int64
	// PushedBytes is the part of ReadBytes stored in the kernel's cache
	// before a reader asked for it (push.go).
	PushedBytes atomic.Int64
}

// Kernel cache lifetimes: the VM and point levels change as points are
// added; everything inside a point is immutable.
const (
	liveTimeout   = time.Second
	frozenTimeout = time.Hour
)

// mount is the state shared by all nodes of one mount.
type mount struct {
	archive  Archive
	opts     Options
	uid, gid uint32
	started  time.Time
	// Owner group and permission bits of what only the mounting user (and
	// ImageGroup) may read: see perm.go.
	privGid, privFile, privDir uint32
	errs                       logOnce
}

// Mount serves archive at mountpoint until the returned server is
// unmounted. A mountpoint left behind by a killed vmarchive is cleaned up
// first, with a message to opts.Logger.
func Mount(archive Archive, mountpoint string, opts Options) (*fuse.Server, error) {
	if err := clearStale(mountpoint, opts.Logger); err != nil {
		return nil, err
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = time.Minute
	}
	m := &mount{archive: archive, opts: opts, uid: uint32(os.Getuid()), gid: uint32(os.Getgid()), started: time.Now()}
	m.errs.logger = opts.Logger
	m.initPerms(opts)
	frozen, negative := frozenTimeout, time.Duration(0)
	mo := fuse.MountOptions{
		FsName:        "vmarchive",
		Name:          "vmarchive",
		Options:       []string{"ro"},
		MaxWrite:      1 << 20,
		MaxReadAhead:  1 << 20,
		AllowOther:    opts.AllowOther,
		Debug:         opts.Debug,
		DisableXAttrs: false,
		// Replies come from memory, never from a file descriptor: splice
		// only cost a pipe resize per read, and failed for 1 MiB reads.
		DisableSplice: true,
	}
	if opts.AllowOther {
		mo.Options = append(mo.Options, "default_permissions")
	}
	root := &rootNode{m: m}
	srv, err := gofs.Mount(mountpoint, root, &gofs.Options{
		MountOptions:    mo,
		EntryTimeout:    &frozen,
		AttrTimeout:     &frozen,
		NegativeTimeout: &negative,
		UID:             m.uid,
		GID:             m.gid,
		RootStableAttr:  &gofs.StableAttr{Ino: 1},
	})
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	raiseReadahead(mountpoint, mo.MaxReadAhead, opts.Logger)
	return srv, nil
}

// raiseReadahead lets the kernel read ahead maxRA bytes per request on the
// mount. The kernel keeps a FUSE mount's readahead at its 128 KiB
// default whatever the daemon asks for; with 1 MiB requests a sequential
// read takes an eighth of the round trips and the mount serves twice the
// throughput. Only root may raise it (the sysfs knob of the mount's
// device); others keep the default.
func raiseReadahead(mountpoint string, maxRA int, logger *log.Logger) {
	dev, err := mountDevice(mountpoint)
	if err == nil {
		err = os.WriteFile("/sys/class/bdi/"+dev+"/read_ahead_kb", []byte(strconv.Itoa(maxRA>>10)), 0)
	}
	if err != nil && os.Geteuid() == 0 && logger != nil {
		logger.Printf("readahead stays at the kernel's default: %v", err)
	}
}

// mountDevice is the "major:minor" of the filesystem mounted at
// mountpoint, from /proc/self/mountinfo: a stat of the mountpoint would
// ask the daemon and cache the root's attributes, and a stat that
// answers from that cache hides a dead mount (ENOTCONN) from clearStale.
func mountDevice(mountpoint string) (string, error) {
	abs, err := filepath.Abs(mountpoint)
	if err != nil {
		return "", err
	}
	// mountinfo has the path without symlinks; only the parent is
	// resolved, as resolving the mountpoint itself would stat it.
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(dir, filepath.Base(abs))
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	dev := ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescapeMountinfo(f[4]) == abs {
			dev = f[2] // the last mount on the path is the one on top
		}
	}
	if dev == "" {
		return "", fmt.Errorf("%s is not in /proc/self/mountinfo", abs)
	}
	return dev, nil
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// clearStale unmounts a dead FUSE mount ("transport endpoint is not
// connected") left at mountpoint by a killed daemon.
func clearStale(mountpoint string, logger *log.Logger) error {
	// stat alone can be answered from the kernel's attribute cache; opening
	// and reading the directory has to reach the (dead) server.
	f, err := os.Open(mountpoint)
	if err == nil {
		_, err = f.Readdirnames(1)
		f.Close()
		if err == io.EOF {
			err = nil
		}
	}
	if err == nil {
		return nil
	}
	if !errors.Is(err, syscall.ENOTCONN) {
		return fmt.Errorf("mountpoint %s: %w", mountpoint, err)
	}
	if logger != nil {
		logger.Printf("mountpoint %s was left mounted by a vmarchive that died; unmounting it", mountpoint)
	}
	if err := syscall.Unmount(mountpoint, syscall.MNT_DETACH); err != nil {
		if out, ferr := exec.Command("fusermount3", "-u", "-z", mountpoint).CombinedOutput(); ferr != nil {
			return fmt.Errorf("mountpoint %s is a dead FUSE mount and could not be unmounted (%v; fusermount3: %s): run fusermount3 -u -z %s", mountpoint, err, out, mountpoint)
		}
	}
	return nil
}

// LazyUnmount detaches a mount that is still in use, so the daemon can exit.
func LazyUnmount(mountpoint string) {
	if err := syscall.Unmount(mountpoint, syscall.MNT_DETACH); err != nil {
		exec.Command("fusermount3", "-u", "-z", mountpoint).Run()
	}
}

func (m *mount) openDisk(ctx context.Context, p *catalog.Manifest, disk string) (tree.TimedReader, int64, error) {
	return tree.OpenDisk(ctx, m.archive, p, disk, m.opts.ReadTimeout)
}
