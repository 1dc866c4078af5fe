package hashes

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/index"
)

// DerivedName is the name of the cached sums among a point's derived data.
const DerivedName = "hashes"

// Result says how a Run went.
type Result struct {
	Cached bool // served from the cache
	Files  int  // regular files listed
	Failed int  // of which could not be read
	Reused int  // sums taken from the point before by content key
	Read   int64
}

// Run hands the sums of every regular file of point m to emit, in the
// order of its file index, from the cache when there (doc.go), else by
// reading the files and then caching them. warn receives non-fatal
// problems (may be nil). Only the process that holds the repository may
// call Run, as it writes the catalog.
func Run(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, warn func(error), emit func(*Sums) error) (*Result, error) {
	if b, ok, err := repo.Derived(m.ID(), DerivedName); err != nil {
		return nil, err
	} else if ok {
		res := &Result{Cached: true}
		err := decode(b, func(s *Sums) error {
			res.Files++
			if s.Err != "" {
				res.Failed++
			}
			return emit(s)
		})
		if !errors.Is(err, ErrCorrupt) || res.Files > 0 {
			return res, err // emitted: a corrupt tail cannot be taken back
		}
		if warn != nil {
			warn(fmt.Errorf("cached hashes of %s: %w; computing them again", m.ID(), err))
		}
	}
	return compute(ctx, repo, m, warn, emit)
}

// hasher computes one point's sums.
type hasher struct {
	ctx       context.Context
	repo      *catalog.Repo
	m         *catalog.Manifest
	emit      func(*Sums) error
	res       *Result
	prev      map[index.ContentKey]Sums // by content key, from the point before
	links     map[uint64]Sums           // files with several names, by inode, per volume
	buf       []byte
	plain     []byte // encoded records
	n         int
	transient bool // a store read failed: do not cache
}

func compute(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, warn func(error), emit func(*Sums) error) (*Result, error) {
	ix, err := index.Load(ctx, repo, m, warn)
	if err != nil {
		return nil, fmt.Errorf("hashes of %s: file index: %w", m.ID(), err)
	}
	h := &hasher{ctx: ctx, repo: repo, m: m, emit: emit, res: &Result{}, buf: make([]byte, 1<<20), prev: previous(repo, m)}
	for _, v := range ix.Volumes {
		if err := h.volume(v, warn); err != nil {
			return nil, err
		}
	}
	if !h.transient {
		if err := repo.PutDerived(m.ID(), DerivedName, encode(h.n, h.plain)); err != nil {
			return nil, fmt.Errorf("cache hashes of %s: %w", m.ID(), err)
		}
	}
	return h.res, nil
}

// volume hashes the regular files of v.
func (h *hasher) volume(v *index.Volume, warn func(error)) error {
	if v.NoFS || v.Name == "" || v.Err != "" {
		if v.Err != "" && !v.NoFS && warn != nil {
			warn(fmt.Errorf("%s/%s not hashed: %s", v.Disk, v.Name, v.Err))
		}
		return nil
	}
	var fs guestfs.FS
	var openErr error
	opened := false
	h.links = map[uint64]Sums{}
	c := v.Cursor()
	for c.Next() {
		if err := h.ctx.Err(); err != nil {
			return err
		}
		e := c.Entry()
		if e.Mode&syscall.S_IFMT != syscall.S_IFREG {
			continue
		}
		if !opened {
			fs, openErr = openVolume(h.ctx, h.repo, h.m, v.Disk, v.Name)
			opened = true
		}
		s := h.file(fs, openErr, v, &e)
		if err := h.put(&s); err != nil {
			return err
		}
	}
	return nil
}

// file returns the sums of regular file e of volume v.
func (h *hasher) file(fs guestfs.FS, openErr error, v *index.Volume, e *index.Entry) Sums {
	s := Sums{Path: guestPath(v, e.Path), Size: e.Size, Key: e.Key, HasKey: e.HasKey}
	if l, ok := h.links[e.Ino]; ok && e.Nlink > 1 {
		l.Path = s.Path
		return l
	}
	if p, ok := h.prev[e.Key]; ok && e.HasKey && p.Size == e.Size {
		s.MD5, s.SHA1, s.SHA256 = p.MD5, p.SHA1, p.SHA256
		h.res.Reused++
	} else if err := h.read(fs, openErr, e, &s); err != nil {
		s.Err = err.Error()
		var re *catalog.ReadError
		h.transient = h.transient || errors.As(err, &re)
	}
	if e.Nlink > 1 {
		h.links[e.Ino] = s
	}
	return s
}

// read hashes inode e.Ino of fs into s.
func (h *hasher) read(fs guestfs.FS, openErr error, e *index.Entry, s *Sums) error {
	if openErr != nil {
		return openErr
	}
	f, err := fs.Open(e.Ino)
	if err != nil {
		return err
	}
	m5, s1, s256 := md5.New(), sha1.New(), sha256.New()
	w := io.MultiWriter(m5, s1, s256)
	n, err := io.CopyBuffer(w, io.NewSectionReader(f, 0, f.Size()), h.buf)
	h.res.Read += n
	if err != nil {
		return err
	}
	if n != e.Size {
		return fmt.Errorf("read %d bytes, the index says %d", n, e.Size)
	}
	m5.Sum(s.MD5[:0])
	s1.Sum(s.SHA1[:0])
	s256.Sum(s.SHA256[:0])
	return nil
}

// put emits s and adds it to the cache.
func (h *hasher) put(s *Sums) error {
	h.res.Files++
	if s.Err != "" {
		h.res.Failed++
	}
	h.plain = appendRecord(h.plain, s)
	h.n++
	return h.emit(s)
}

// previous returns the cached sums of the VM's point before m by content
// key; nil when there are none.
func previous(repo *catalog.Repo, m *catalog.Manifest) map[index.ContentKey]Sums {
	pts, err := repo.Points(m.VM)
	if err != nil {
		return nil
	}
	var prev *catalog.Manifest
	for _, p := range pts {
		if p.Time.Before(m.Time) {
			prev = p
		}
	}
	if prev == nil {
		return nil
	}
	b, ok, err := repo.Derived(prev.ID(), DerivedName)
	if err != nil || !ok {
		return nil
	}
	out := map[index.ContentKey]Sums{}
	err = decode(b, func(s *Sums) error {
		if s.HasKey && s.Err == "" {
			out[s.Key] = Sums{Size: s.Size, MD5: s.MD5, SHA1: s.SHA1, SHA256: s.SHA256}
		}
		return nil
	})
	if err != nil {
		return nil
	}
	return out
}

func openVolume(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, disk, name string) (guestfs.FS, error) {
	dr, err := repo.OpenDisk(ctx, m, disk)
	if err != nil {
		return nil, err
	}
	gd, err := guestfs.OpenDisk(dr, dr.Size(), nil)
	if err != nil {
		return nil, fmt.Errorf("disk %s: %w", disk, err)
	}
	for _, v := range gd.Volumes {
		if v.Name == name && v.FS != nil {
			return v.FS, nil
		}
	}
	return nil, fmt.Errorf("volume %s/%s has no readable filesystem", disk, name)
}

// guestPath is path of volume v as in the mount: "disk0/p1/etc/hosts".
func guestPath(v *index.Volume, path string) string {
	if path == "/" {
		return v.Prefix()
	}
	return v.Prefix() + path
}
