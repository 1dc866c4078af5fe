package testrestore

import (
	"context"
	"syscall"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/index"
)

// keys computes the content keys of a volume's regular files from their
// extents and the disk's map, as the file index does, so the stored keys
// are checked too. Files of a volume with no place on the disk (a logical
// volume) or whose filesystem gives no extents get none, as in the index.
type keys struct {
	ext   guestfs.Extenter // nil: no keys
	keyer *index.Keyer
	done  map[uint64]walked // hard links share their inode's key
}

func newKeys(ctx context.Context, v *guestfs.Volume, dm *catalog.DiskMap) *keys {
	ext, ok := v.FS.(guestfs.Extenter)
	if !ok || v.Offset < 0 {
		return &keys{}
	}
	return &keys{ext: ext, keyer: index.NewKeyer(ctx, dm, v.Offset, v.Size), done: map[uint64]walked{}}
}

// add sets the key of w, a regular file whose stat worked.
func (k *keys) add(w *walked) {
	if k.ext == nil || w.attr.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return
	}
	if d, ok := k.done[w.ino]; ok {
		w.key, w.hasKey = d.key, d.hasKey
		return
	}
	// An error leaves no key, as the index records it.
	if es, err := k.ext.Extents(w.ino); err == nil {
		w.key, w.hasKey, _ = k.keyer.Key(w.attr.Size, es)
	}
	k.done[w.ino] = *w
}
