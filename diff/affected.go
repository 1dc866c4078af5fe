package diff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"syscall"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
)

// Affected names the guest files of one disk of one point whose data lies
// in damaged or missing chunks, and what could not be examined for them.
type Affected struct {
	Ref catalog.DiskRef
	// Files are "<volume>/<path>", every name of a hard-linked file.
	Files []string
	// Unexamined are "<where>: <why>": the disk, a volume, or a volume's
	// directory or file whose files could not be told.
	Unexamined []string
}

// MarshalJSON writes the point as "vm" and "point" strings, as check
// --json always has.
func (a Affected) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		VM         string   `json:"vm"`
		Point      string   `json:"point"`
		Disk       string   `json:"disk"`
		Files      []string `json:"files"`
		Unexamined []string `json:"unexamined,omitempty"`
	}{a.Ref.VM, a.Ref.Name(), a.Ref.Disk, a.Files, a.Unexamined})
}

// maxUnexamined bounds the reasons kept per disk; a damaged volume can
// fail in every directory.
const maxUnexamined = 100

// AffectedFiles names, for every disk whose data chunks the problems name,
// the guest files that lie in those chunks, walking each filesystem the
// chunks touch. Only a cancelled ctx (or a use naming no possible point)
// is an error: what cannot be read is listed in Unexamined.
func AffectedFiles(ctx context.Context, repo *catalog.Repo, problems []catalog.Problem) ([]Affected, error) {
	bad := map[catalog.DiskRef][]extent{}
	for _, pr := range problems {
		for _, u := range pr.Uses {
			if u.What == "data" && u.Offset >= 0 {
				k, err := u.Ref()
				if err != nil { // not from Verify: no point has this name
					return nil, fmt.Errorf("chunk %s: %w", pr.ID, err)
				}
				bad[k] = append(bad[k], extent{u.Offset, u.Len})
			}
		}
	}
	var out []Affected
	for k, chunks := range bad {
		sort.Slice(chunks, func(i, j int) bool { return chunks[i].off < chunks[j].off })
		a := &Affected{Ref: k}
		affectedDisk(ctx, repo, a, chunks)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sort.Strings(a.Files)
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref.Less(out[j].Ref) })
	return out, nil
}

func (a *Affected) unexamined(where string, err error) {
	switch n := len(a.Unexamined); {
	case n < maxUnexamined:
		a.Unexamined = append(a.Unexamined, where+": "+oneLine(err.Error()))
	case n == maxUnexamined:
		a.Unexamined = append(a.Unexamined, "and more: the first are listed")
	}
}

// affectedDisk fills a from the volumes of one disk that bad touches.
func affectedDisk(ctx context.Context, repo *catalog.Repo, a *Affected, bad []extent) {
	where := "disk " + a.Ref.Disk
	m, err := repo.PointByID(a.Ref.PointID)
	if err != nil {
		a.unexamined(where, err)
		return
	}
	dr, err := repo.OpenDisk(ctx, m, a.Ref.Disk)
	if err != nil {
		a.unexamined(where, err)
		return
	}
	gd, err := guestfs.OpenDisk(dr, dr.Size(), nil)
	if err != nil {
		a.unexamined(where, err)
		return
	}
	for _, v := range gd.Volumes {
		switch {
		case v.Layout == nil:
			a.unexamined(v.Name, errors.New("where the volume lies on the disk is unknown"))
		case !touched(bad, v.Layout):
		case v.FS == nil && (v.Err == nil || errors.Is(v.Err, guestfs.ErrUnknownFS) || v.Kind == "lvm2"):
			// No files: swap, raw data, or a physical volume whose
			// logical volumes are volumes of their own.
		case v.FS == nil:
			// guestfs names the volume in its errors.
			msg := strings.TrimPrefix(oneLine(v.Err.Error()), v.Name+": ")
			a.unexamined(v.Name, fmt.Errorf("filesystem not opened: %s", msg))
		default:
			affectedVolume(ctx, a, v, bad)
		}
	}
}

// affectedVolume walks one volume's tree for files in bad.
func affectedVolume(ctx context.Context, a *Affected, v *guestfs.Volume, bad []extent) {
	x, ok := v.FS.(guestfs.Extenter)
	if !ok {
		a.unexamined(v.Name, fmt.Errorf("%s: cannot map files to blocks", v.FS.Type()))
		return
	}
	hit := map[uint64]bool{} // by inode, so every name of a file is named
	visit := func(p string, e guestfs.DirEntry) error {
		if e.Mode&syscall.S_IFMT != syscall.S_IFREG {
			return nil
		}
		h, ok := hit[e.Ino]
		if !ok {
			h = fileHit(x, v.Layout, e.Ino, bad, func(err error) { a.unexamined(v.Name+p, err) })
			hit[e.Ino] = h
		}
		if h {
			a.Files = append(a.Files, v.Name+p)
		}
		return nil
	}
	// A directory met twice was examined under its first name.
	unlisted := func(p string, err error) {
		if !errors.Is(err, guestfs.ErrCycle) {
			a.unexamined(v.Name+p, err)
		}
	}
	if err := guestfs.Walk(ctx, v.FS, guestfs.Limits{}, visit, unlisted); err != nil {
		a.unexamined(v.Name, err)
	}
}

// fileHit reports whether a file's data lies in bad; a file whose extents
// cannot be read (in full) is told to fail, and is a hit if those read are.
func fileHit(x guestfs.Extenter, layout []guestfs.Piece, ino uint64, bad []extent, fail func(error)) bool {
	es, err := x.Extents(ino)
	if err != nil {
		fail(fmt.Errorf("extents: %w", err))
	}
	for _, e := range es {
		ds, ok := toDisk(layout, e.Physical, e.Length)
		if !ok {
			fail(fmt.Errorf("extent at volume byte %d is outside the volume", e.Physical))
		}
		for _, d := range ds {
			if overlaps(bad, d.off, d.n) {
				return true
			}
		}
	}
	return false
}
