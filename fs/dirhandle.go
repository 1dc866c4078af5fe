package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// namesOnly is an open directory whose READDIRPLUS replies carry names
// without nodes. For every entry of a READDIRPLUS go-fuse would look the
// child up and keep its inode, so a plain ls of a VM with hundreds of
// points would make a node for each. An entry without a node id tells the
// kernel to keep the name alone (fuse_direntplus_link); a stat of a child
// then looks it up as usual.
type namesOnly struct {
	ents []fuse.DirEntry
	pos  int // index of the next entry
}

var (
	_ gofs.FileReaddirenter = (*namesOnly)(nil)
	_ gofs.FileLookuper     = (*namesOnly)(nil)
	_ gofs.FileSeekdirer    = (*namesOnly)(nil)
)

func (h *namesOnly) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if h.pos >= len(h.ents) {
		return nil, 0
	}
	e := h.ents[h.pos]
	h.pos++
	e.Off = uint64(h.pos) // where a seek to resume after e goes
	return &e, 0
}

// Lookup declines; go-fuse then sends the entry with node id 0.
func (h *namesOnly) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EAGAIN
}

func (h *namesOnly) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if off > uint64(len(h.ents)) {
		return syscall.EINVAL
	}
	h.pos = int(off)
	return 0
}
