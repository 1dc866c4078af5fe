package timeline

import (
	"bytes"
	"fmt"
	"io"
	"syscall"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/index"
)

// fsKey names one volume of one point.
type fsKey struct {
	point      catalog.PointID
	disk, name string
}

// openFS is a volume's filesystem opened from the store, or why not.
type openFS struct {
	fs  guestfs.FS
	err error
}

// contentChanged reports whether a regular file's bytes differ between
// a (at point pa) and b (at pb). Equal content keys prove them equal and
// different sizes different; otherwise (a key also changes when another
// file's bytes in the same chunk do) the two versions are read and
// compared, which reads only files lying in changed chunks.
func (r *run) contentChanged(pa, pb *catalog.Manifest, v *index.Volume, a, b *index.Entry) (bool, error) {
	if a.Mode&syscall.S_IFMT != syscall.S_IFREG || b.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return false, nil
	}
	switch {
	case a.HasKey && b.HasKey && a.Key == b.Key:
		return false, nil
	case a.Size != b.Size:
		return true, nil
	}
	fa, err := r.open(pa, v, a.Ino)
	if err != nil {
		return false, err
	}
	fb, err := r.open(pb, v, b.Ino)
	if err != nil {
		return false, err
	}
	same, err := sameBytes(fa, fb, a.Size, r.bufA, r.bufB)
	if err != nil {
		return false, fmt.Errorf("compare %s in points %s and %s: %w", guestPath(v, b.Path), pa.Name(), pb.Name(), err)
	}
	return !same, nil
}

// open opens inode ino of volume v in point m.
func (r *run) open(m *catalog.Manifest, v *index.Volume, ino uint64) (guestfs.File, error) {
	k := fsKey{m.ID(), v.Disk, v.Name}
	o, ok := r.fss[k]
	if !ok {
		o.fs, o.err = r.openVolume(m, v.Disk, v.Name)
		r.fss[k] = o
	}
	if o.err != nil {
		return nil, o.err
	}
	f, err := o.fs.Open(ino)
	if err != nil {
		return nil, fmt.Errorf("%s inode %d in point %s: %w", v.Prefix(), ino, m.Name(), err)
	}
	return f, nil
}

func (r *run) openVolume(m *catalog.Manifest, disk, name string) (guestfs.FS, error) {
	dr, err := r.repo.OpenDisk(r.ctx, m, disk)
	if err != nil {
		return nil, err
	}
	gd, err := guestfs.OpenDisk(dr, dr.Size(), nil)
	if err != nil {
		return nil, fmt.Errorf("point %s disk %s: %w", m.Name(), disk, err)
	}
	for _, vol := range gd.Volumes {
		if vol.Name == name && vol.FS != nil {
			return vol.FS, nil
		}
	}
	return nil, fmt.Errorf("point %s: volume %s/%s has no readable filesystem", m.Name(), disk, name)
}

// forget drops the opened filesystems of points other than keep.
func (r *run) forget(keep catalog.PointID) {
	for k := range r.fss {
		if k.point != keep {
			delete(r.fss, k)
		}
	}
}

// sameBytes compares the first size bytes of a and b.
func sameBytes(a, b io.ReaderAt, size int64, bufA, bufB []byte) (bool, error) {
	for off := int64(0); off < size; off += int64(len(bufA)) {
		n := int(min(int64(len(bufA)), size-off))
		if _, err := a.ReadAt(bufA[:n], off); err != nil && err != io.EOF {
			return false, err
		}
		if _, err := b.ReadAt(bufB[:n], off); err != nil && err != io.EOF {
			return false, err
		}
		if !bytes.Equal(bufA[:n], bufB[:n]) {
			return false, nil
		}
	}
	return true, nil
}
