package diff

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/vmarchive/vmarchive/index"
)

// errIncomplete sends a volume whose index misses entries to the walk.
var errIncomplete = errors.New("index incomplete")

// indexVolume returns a point's index of one volume when it is complete.
func indexVolume(ix *index.Index, disk, name, fsType string) *index.Volume {
	if ix == nil {
		return nil
	}
	v := ix.Volume(disk, name)
	if v == nil || v.Err != "" || len(v.Warnings) > 0 || v.NoFS || v.FSType != fsType || v.Len() == 0 {
		return nil
	}
	return v
}

// walkIndexed finds the paths to compare from the two points' file
// indexes instead of walking both trees: an entry whose inode, type, mode,
// owner, size, times and content key are all equal is unchanged and never
// read. Any change to data, xattrs or streams through the guest's kernel
// moves the change time, so only such entries, and paths on one side
// only, are looked at through the filesystem.
func (v *volumeDiff) walkIndexed(ia, ib *index.Volume) error {
	ea, eb := ia.Entries(), ib.Entries()
	for _, l := range [][]index.Entry{ea, eb} {
		for i := range l {
			if l[i].StatFailed || l[i].ListFailed {
				return errIncomplete
			}
		}
	}
	i, j := 0, 0
	for i < len(ea) || j < len(eb) {
		if err := v.ctx.Err(); err != nil {
			return err
		}
		c := 0
		switch {
		case i == len(ea):
			c = 1
		case j == len(eb):
			c = -1
		default:
			c = strings.Compare(ea[i].Path, eb[j].Path)
		}
		switch {
		case c < 0:
			n, err := v.stat(v.a, ea[i].Path, ea[i].Ino)
			if err != nil {
				return readErr(v.ctx, err)
			}
			n.key, n.hasKey = ea[i].Key, ea[i].HasKey
			v.onlyA = append(v.onlyA, n)
			i++
		case c > 0:
			n, err := v.stat(v.b, eb[j].Path, eb[j].Ino)
			if err != nil {
				return readErr(v.ctx, err)
			}
			n.key, n.hasKey = eb[j].Key, eb[j].HasKey
			v.onlyB = append(v.onlyB, n)
			j++
		default:
			if !sameEntry(&ea[i], &eb[j]) {
				if err := v.comparePath(&ea[i], &eb[j]); err != nil {
					return err
				}
			}
			i++
			j++
		}
	}
	return nil
}

// comparePath compares one path present in both points, without
// descending: the indexes list what is below.
func (v *volumeDiff) comparePath(ea, eb *index.Entry) error {
	a, err := v.stat(v.a, ea.Path, ea.Ino)
	if err != nil {
		return readErr(v.ctx, err)
	}
	b, err := v.stat(v.b, eb.Path, eb.Ino)
	if err != nil {
		return readErr(v.ctx, err)
	}
	a.key, a.hasKey = ea.Key, ea.HasKey
	b.key, b.hasKey = eb.Key, eb.HasKey
	pr := &pair{a: a, b: b}
	if a.attr.Mode&syscall.S_IFMT == b.attr.Mode&syscall.S_IFMT {
		pr.fields = metaFields(a, b)
		if isReg(a) {
			pr.same = v.provedSame(a, b)
			v.keyVerdict(pr)
		}
	}
	v.pairs = append(v.pairs, pr)
	return nil
}

// keyVerdict proves a pair of regular files equal when their content keys
// are: the same chunks at the same disk offsets. Differing keys prove
// nothing (a change elsewhere in a shared chunk changes both).
func (v *volumeDiff) keyVerdict(p *pair) {
	if p.a.hasKey && p.b.hasKey && p.a.key == p.b.key {
		p.same = true
	}
}

// readErr sends a path that cannot be read to the walk, which leaves out
// just its subtree, unless ctx is done.
func readErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: %v", errIncomplete, err)
}

// sameEntry reports whether two index entries show no change at all.
func sameEntry(a, b *index.Entry) bool {
	if a.Ino != b.Ino || a.Mode != b.Mode || a.Uid != b.Uid || a.Gid != b.Gid || a.Size != b.Size ||
		!a.Mtime.Equal(b.Mtime) || !a.Ctime.Equal(b.Ctime) || !a.Crtime.Equal(b.Crtime) {
		return false
	}
	if a.Mode&syscall.S_IFMT == syscall.S_IFREG {
		return a.HasKey && b.HasKey && a.Key == b.Key
	}
	return true
}
