package index

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
)

// Version is one distinct content of a path across points.
type Version struct {
	N    int    `json:"version"` // 1 for the first seen
	Type string `json:"type"`
	Size int64  `json:"size"`
	// Times at the last point holding the version; Crtime (birth) is
	// zero where the filesystem does not record it.
	Mtime  time.Time `json:"mtime"`
	Ctime  time.Time `json:"ctime"`
	Crtime time.Time `json:"crtime,omitzero"`
	SHA256 string    `json:"sha256,omitempty"` // regular files
	Target string    `json:"target,omitempty"` // symlinks
	Err    string    `json:"error,omitempty"`  // why the content is unknown
	Points int       `json:"points"`
	First  string    `json:"first"`
	Last   string    `json:"last"`
	// Keys is how many different content keys the version had: more than
	// one means copies the index could not tell equal were hashed equal.
	Keys int `json:"content_keys"`
}

// Run is a stretch of consecutive points in which a path has one version
// (Version > 0), is absent (0) or could not be looked for (-1).
type Run struct {
	Version int    `json:"version"`
	First   string `json:"first"`
	Last    string `json:"last"`
	Points  int    `json:"points"`
}

// History is the versions of one path across points.
type History struct {
	VM       string    `json:"vm"`
	Path     string    `json:"path"`
	Points   int       `json:"points"`  // points looked at
	Present  int       `json:"present"` // points holding the path
	Versions []Version `json:"versions"`
	Runs     []Run     `json:"runs"`
	Problems []Problem `json:"-"`
}

// VersionsOptions tune Versions.
type VersionsOptions struct {
	// HashAll hashes every point's copy instead of one copy per content
	// key: nothing is taken from the index's keys.
	HashAll bool
	Warn    func(error)
}

// found is what one point holds at the path.
type found struct {
	state int     // 1 present, 0 absent, -1 unknown
	vol   *Volume // without entries (Volume.header)
	e     Entry
	class string
}

// Versions lists the distinct versions of guestPath ("disk0/p2/etc/hosts")
// across points, oldest first. Versions are told apart by content: copies
// with equal content keys are one version; the others are read once per
// key and merged when their SHA-256 agree.
func Versions(ctx context.Context, repo *catalog.Repo, points []*catalog.Manifest, guestPath string, opts VersionsOptions) (*History, error) {
	h := &History{Path: guestPath, Points: len(points)}
	if len(points) > 0 {
		h.VM = points[0].VM
	}
	fs := make([]found, len(points))
	bufs := make([]decodeBuf, workers(len(points)))
	err := forEach(ctx, len(points), func(w, i int) error {
		ix, err := load(ctx, repo, points[i], opts.Warn, &bufs[w])
		if err != nil {
			return err
		}
		fs[i] = lookup(ix, guestPath)
		if fs[i].vol != nil {
			// The worker's next point reuses the columns: keep the rest.
			fs[i].vol = fs[i].vol.header()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r := &reading{ctx: ctx, repo: repo}
	ident := map[string]string{}   // content class -> identity
	vinfo := map[string]*Version{} // identity -> version
	var order []*Version
	for i := range fs {
		f := &fs[i]
		if f.state < 0 {
			h.Problems = append(h.Problems, Problem{Point: points[i], Disk: f.vol.Disk, Volume: f.vol.Name, Err: f.vol.Err})
		}
		if f.state != 1 {
			continue
		}
		h.Present++
		class := classOf(f, points[i], opts.HashAll)
		id, ok := ident[class]
		if !ok {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			id = r.identify(points[i], f, vinfo)
			ident[class] = id
			vinfo[id].Keys++
		}
		v := vinfo[id]
		if v.N == 0 {
			order = append(order, v)
			v.N = len(order)
			v.First = points[i].Name()
		}
		v.Points++
		v.Last = points[i].Name()
		v.Size, v.Mtime, v.Ctime, v.Crtime = f.e.Size, f.e.Mtime, f.e.Ctime, f.e.Crtime
		f.class = id
	}
	for _, v := range order {
		h.Versions = append(h.Versions, *v)
	}
	h.Runs = runs(points, fs, vinfo)
	return h, nil
}

// lookup finds guestPath in ix.
func lookup(ix *Index, guestPath string) found {
	v, p, ok := ix.Split(guestPath)
	if !ok {
		return found{state: 0}
	}
	if v.Err != "" {
		return found{state: -1, vol: v}
	}
	e, ok := v.Lookup(p)
	if !ok {
		return found{state: 0, vol: v}
	}
	return found{state: 1, vol: v, e: e}
}

// classOf groups copies known equal without reading them.
func classOf(f *found, m *catalog.Manifest, hashAll bool) string {
	switch f.e.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		if f.e.HasKey && !hashAll {
			return "k:" + f.e.Key.String()
		}
		return "p:" + m.Name()
	case syscall.S_IFLNK:
		return "p:" + m.Name() // the target is read
	}
	return "t:" + f.e.Type()
}

func runs(points []*catalog.Manifest, fs []found, vinfo map[string]*Version) []Run {
	var out []Run
	for i := range fs {
		ver := fs[i].state // 0 absent, -1 unknown
		if ver == 1 {
			ver = vinfo[fs[i].class].N
		}
		if n := len(out); n > 0 && out[n-1].Version == ver {
			out[n-1].Last = points[i].Name()
			out[n-1].Points++
			continue
		}
		out = append(out, Run{Version: ver, First: points[i].Name(), Last: points[i].Name(), Points: 1})
	}
	return out
}

// reading opens points' volumes to read the content of copies.
type reading struct {
	ctx  context.Context
	repo *catalog.Repo
}

// identify returns the identity of f's content, creating its Version in
// vinfo when new.
func (r *reading) identify(m *catalog.Manifest, f *found, vinfo map[string]*Version) string {
	v := &Version{Type: f.e.Type()}
	var id string
	switch f.e.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		sum, err := r.hash(m, f)
		if err != nil {
			v.Err = err.Error()
			id = "e:" + m.Name()
		} else {
			v.SHA256, id = sum, "f:"+sum
		}
	case syscall.S_IFLNK:
		t, err := r.readlink(m, f)
		if err != nil {
			v.Err = err.Error()
			id = "e:" + m.Name()
		} else {
			v.Target, id = t, "l:"+t
		}
	default:
		id = "t:" + v.Type
	}
	if _, ok := vinfo[id]; !ok {
		vinfo[id] = v
	}
	return id
}

func (r *reading) fs(m *catalog.Manifest, f *found) (guestfs.FS, error) {
	dr, err := r.repo.OpenDisk(r.ctx, m, f.vol.Disk)
	if err != nil {
		return nil, err
	}
	gd, err := guestfs.OpenDisk(dr, dr.Size(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s disk %s: %w", m.ID(), f.vol.Disk, err)
	}
	for _, v := range gd.Volumes {
		if v.Name == f.vol.Name {
			if v.FS == nil {
				return nil, fmt.Errorf("%s %s: %v", m.ID(), f.vol.Prefix(), v.Err)
			}
			return v.FS, nil
		}
	}
	return nil, fmt.Errorf("%s: no volume %s", m.ID(), f.vol.Prefix())
}

// hash returns the SHA-256 of the copy of f in point m, read through guestfs.
func (r *reading) hash(m *catalog.Manifest, f *found) (string, error) {
	fsys, err := r.fs(m, f)
	if err != nil {
		return "", err
	}
	file, err := fsys.Open(f.e.Ino)
	if err != nil {
		return "", fmt.Errorf("%s %s%s: open inode %d: %w", m.ID(), f.vol.Prefix(), f.e.Path, f.e.Ino, err)
	}
	if file.Size() != f.e.Size {
		return "", fmt.Errorf("%s %s%s: inode %d has %d bytes, the index says %d", m.ID(), f.vol.Prefix(), f.e.Path, f.e.Ino, file.Size(), f.e.Size)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(file, 0, file.Size())); err != nil {
		return "", fmt.Errorf("%s %s%s: read: %w", m.ID(), f.vol.Prefix(), f.e.Path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (r *reading) readlink(m *catalog.Manifest, f *found) (string, error) {
	fsys, err := r.fs(m, f)
	if err != nil {
		return "", err
	}
	t, err := fsys.Readlink(f.e.Ino)
	if err != nil {
		return "", fmt.Errorf("%s %s%s: readlink: %w", m.ID(), f.vol.Prefix(), f.e.Path, err)
	}
	return t, nil
}
