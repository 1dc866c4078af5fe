package testrestore

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vmarchive/vmarchive/index"
)

// compare checks the walked entries of a volume against its index
// volume: the same paths, each with the same attributes.
func (t *tester) compare(vp string, ws []walked, iv *index.Volume) {
	slices.SortStableFunc(ws, func(a, b walked) int { return strings.Compare(a.path, b.path) })
	ws = slices.CompactFunc(ws, func(a, b walked) bool { return a.path == b.path }) // the index keeps the first too
	i := 0
	var n int64
	iv.Paths(func(k int, pb []byte) bool {
		p := string(pb)
		n++
		for i < len(ws) && ws[i].path < p {
			t.problem(mountPath(vp, ws[i].path), "index", errors.New("found by the walk, not in the file index"))
			i++
		}
		if i < len(ws) && ws[i].path == p {
			if d := differences(iv.Entry(k, p), &ws[i]); d != "" {
				t.problem(mountPath(vp, p), "index", fmt.Errorf("the file index differs from the walk: %s", d))
			}
			i++
			return true
		}
		t.problem(mountPath(vp, p), "index", errors.New("in the file index, not found by the walk"))
		return true
	})
	for ; i < len(ws); i++ {
		t.problem(mountPath(vp, ws[i].path), "index", errors.New("found by the walk, not in the file index"))
	}
	t.mu.Lock()
	t.res.IndexEntries += n
	t.mu.Unlock()
}

// differences describes how index entry e differs from walked entry w,
// "" when it does not.
func differences(e index.Entry, w *walked) string {
	var d []string
	diff := func(name string, ix, walk any) {
		if ix != walk {
			d = append(d, fmt.Sprintf("%s %v in the index, %v walked", name, ix, walk))
		}
	}
	diff("type", index.TypeName(e.Mode), index.TypeName(w.attr.Mode))
	diff("inode", e.Ino, w.ino)
	diff("stat failed", e.StatFailed, w.statFailed)
	if e.StatFailed || w.statFailed {
		return strings.Join(d, "; ")
	}
	a := &w.attr
	diff("size", e.Size, a.Size)
	diff("mode", fmt.Sprintf("%o", e.Mode), fmt.Sprintf("%o", a.Mode))
	diff("links", e.Nlink, a.Nlink)
	diff("uid", e.Uid, a.Uid)
	diff("gid", e.Gid, a.Gid)
	diffTime := func(name string, ix, walk time.Time) {
		if ix.Unix() != walk.Unix() || ix.Nanosecond() != walk.Nanosecond() {
			d = append(d, fmt.Sprintf("%s %s in the index, %s walked", name, ix.Format(time.RFC3339Nano), walk.UTC().Format(time.RFC3339Nano)))
		}
	}
	diffTime("mtime", e.Mtime, a.Mtime)
	diffTime("ctime", e.Ctime, a.Ctime)
	diffTime("crtime", e.Crtime, a.Crtime)
	if e.HasKey != w.hasKey || e.Key != w.key {
		d = append(d, fmt.Sprintf("content key %s in the index, %s from the walk", keyString(e.Key, e.HasKey), keyString(w.key, w.hasKey)))
	}
	return strings.Join(d, "; ")
}

func keyString(k index.ContentKey, ok bool) string {
	if !ok {
		return "none"
	}
	return k.String()
}
