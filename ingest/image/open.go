package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
	"github.com/vmarchive/vmarchive/ingest/image/qcow2"
	"github.com/vmarchive/vmarchive/ingest/image/vhd"
	"github.com/vmarchive/vmarchive/ingest/image/vhdx"
	"github.com/vmarchive/vmarchive/ingest/image/vmdk"
)

// maxChain bounds backing-file chains (qemu itself allows far more, but
// real chains are short and each link costs open files and caches).
const maxChain = 64

// Open opens the disk image at path read-only, detecting its format from
// its content. Backing files and extent files are resolved relative to the
// directory of the file that names them. path may be a regular file or a
// block device; files named inside an image must be regular files.
func Open(path string) (Disk, error) {
	return OpenAs(path, "")
}

// OpenAs is Open with the format given: "" detects it, "raw" takes the
// file byte for byte even when it is not sector-sized or reads as a VMDK
// descriptor, "qcow2", "vmdk", "vhd" and "vhdx" insist on those formats.
func OpenAs(path, format string) (Disk, error) {
	switch format {
	case "", "raw", "qcow2", "vmdk", "vhd", "vhdx":
	default:
		return nil, vdisk.Unsupportedf("format %q: expected raw, qcow2, vmdk, vhd or vhdx", format)
	}
	return openPath(path, format, true, &chain{})
}

// OpenReaderAt opens an image held in r (size bytes) that refers to no
// other file; images with extent or backing files fail to open.
func OpenReaderAt(r io.ReaderAt, size int64) (Disk, error) {
	return openSource(readerSource{r, size}, "image", "", nil)
}

// chain tracks the files of one backing chain to stop loops.
type chain struct {
	seen []os.FileInfo
}

// openPath opens one file of a chain; dev allows a block device.
func openPath(path, format string, dev bool, ch *chain) (Disk, error) {
	if len(ch.seen) >= maxChain {
		return nil, vdisk.Corruptf("backing chain longer than %d files at %q", maxChain, path)
	}
	f, err := vdisk.OpenFile(path, dev)
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open image: %w", err)
	}
	for _, s := range ch.seen {
		if os.SameFile(s, fi) {
			f.Close()
			return nil, vdisk.Corruptf("backing chain loop: %q is already part of the chain", path)
		}
	}
	ch.seen = append(ch.seen, fi)
	d, err := openSource(f, path, format, &resolver{dir: filepath.Dir(path), ch: ch})
	if err != nil {
		f.Close()
		return nil, err
	}
	return d, nil
}

// resolver opens the files an image names, relative to its directory.
type resolver struct {
	dir string
	ch  *chain
}

func (r *resolver) path(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(r.dir, name)
}

func (r *resolver) openExtent(name string) (vdisk.SourceCloser, error) {
	return vdisk.OpenFile(r.path(name), false)
}

func (r *resolver) openBacking(name, format string) (vdisk.Disk, error) {
	return openPath(r.path(name), format, false, r.ch)
}

// openParent opens the first of names that exists: a differencing VHD
// or VHDX lists several spellings of its parent's path.
func (r *resolver) openParent(names []string, format string) (vdisk.Disk, string, error) {
	var tried []string
	for _, n := range names {
		if _, err := os.Lstat(r.path(n)); errors.Is(err, fs.ErrNotExist) {
			tried = append(tried, strconv.Quote(r.path(n)))
			continue
		}
		d, err := openPath(r.path(n), format, false, r.ch)
		return d, n, err
	}
	return nil, "", fmt.Errorf("no parent file found; tried %s", strings.Join(tried, ", "))
}

// openSource detects the format of src (unless format names it) and opens
// it; on success the disk owns src.
func openSource(src vdisk.SourceCloser, name, format string, res *resolver) (Disk, error) {
	if format == "" {
		var err error
		if format, err = detect(src, name); err != nil {
			return nil, err
		}
		if format == "raw" {
			if err := checkRaw(src, name); err != nil {
				return nil, err
			}
		}
	}
	var ext vmdk.Opener
	var back qcow2.BackingOpener
	var parent vhd.ParentOpener
	if res != nil {
		ext, back, parent = res.openExtent, res.openBacking, res.openParent
	}
	switch format {
	case "raw":
		return newRaw(src), nil
	case "qcow2":
		return qcow2.Open(src, name, back)
	case "vmdk":
		return vmdk.Open(src, name, ext)
	case "vhd":
		return vhd.Open(src, name, parent)
	case "vhdx":
		return vhdx.Open(src, name, vhdx.ParentOpener(parent))
	}
	return nil, vdisk.Unsupportedf("%q: image format %q", name, format)
}

// checkRaw refuses content that detection calls raw but that is no disk:
// a size that is not whole sectors (a text file, a truncated copy) or a
// VMDK descriptor that detection did not take for one. --format raw
// (OpenAs) skips it.
func checkRaw(src vdisk.Source, name string) error {
	if src.Size()%512 != 0 {
		return fmt.Errorf("%w: %q has %d bytes, not a whole number of 512-byte sectors; if it really is a raw disk, say --format raw", vdisk.ErrNotImage, name, src.Size())
	}
	if src.Size() > vmdk.MaxDescriptorSize {
		return nil
	}
	b := make([]byte, src.Size())
	if err := vdisk.ReadFull(src, b, 0, fmt.Sprintf("%q", name)); err != nil {
		return err
	}
	if vmdk.IsDescriptor(b) {
		return fmt.Errorf("%w: %q reads as a VMDK descriptor that could not be parsed, not as a disk; if it really is a raw disk, say --format raw", vdisk.ErrNotImage, name)
	}
	return nil
}

// detect names the format of src from its first bytes.
func detect(src vdisk.Source, name string) (string, error) {
	head := make([]byte, min(src.Size(), 4096))
	if err := vdisk.ReadFull(src, head, 0, fmt.Sprintf("%q: image header", name)); err != nil {
		return "", err
	}
	has := func(off int, magic string) bool {
		return len(head) >= off+len(magic) && string(head[off:off+len(magic)]) == magic
	}
	switch {
	case has(0, "QFI\xfb"):
		return "qcow2", nil
	case has(0, "KDMV"), has(0, "COWD"), vmdk.IsDescriptor(head):
		return "vmdk", nil
	case len(head) >= 8 && binary.LittleEndian.Uint64(head) == 0xcafebabe:
		return "", vdisk.Unsupportedf("%q: VMware seSparse image", name)
	case has(0, "vhdxfile"):
		return "vhdx", nil
	case has(0, "conectix"):
		return "vhd", nil
	case has(0x40, "\x7f\x10\xda\xbe"):
		return "", vdisk.Unsupportedf("%q: VirtualBox VDI image", name)
	case has(0, "QED\x00"):
		return "", vdisk.Unsupportedf("%q: QED image", name)
	case has(0, "LUKS\xba\xbe"):
		return "", vdisk.Unsupportedf("%q: LUKS-encrypted image", name)
	case has(0, "WithoutFreeSpace"), has(0, "WithouFreSpacExt"):
		return "", vdisk.Unsupportedf("%q: Parallels image", name)
	}
	if fixedVHD(src) {
		return "vhd", nil
	}
	return "raw", nil
}

// fixedVHD reports whether src ends with a VHD footer.
func fixedVHD(src vdisk.Source) bool {
	if src.Size() < 512 {
		return false
	}
	var b [8]byte
	if _, err := src.ReadAt(b[:], src.Size()-512); err != nil {
		return false
	}
	return bytes.Equal(b[:], []byte("conectix"))
}

// readerSource adapts an io.ReaderAt of known size.
type readerSource struct {
	io.ReaderAt
	size int64
}

func (r readerSource) Size() int64  { return r.size }
func (r readerSource) Close() error { return nil }
