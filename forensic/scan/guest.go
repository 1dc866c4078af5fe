package scan

import (
	"context"
	"fmt"
	"io"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/index"
)

// guest opens the guest filesystems of one point, each disk once.
type guest struct {
	ctx   context.Context
	repo  *catalog.Repo
	m     *catalog.Manifest
	disks map[string]*guestfs.Disk
}

func (g *guest) volume(disk, name string) (*guestfs.Volume, error) {
	if g.disks == nil {
		g.disks = map[string]*guestfs.Disk{}
	}
	d := g.disks[disk]
	if d == nil {
		r, err := g.repo.OpenDisk(g.ctx, g.m, disk)
		if err != nil {
			return nil, err
		}
		if d, err = guestfs.OpenDisk(r, r.Size(), nil); err != nil {
			return nil, fmt.Errorf("point %s disk %q: %w", g.m.Name(), disk, err)
		}
		g.disks[disk] = d
	}
	for _, v := range d.Volumes {
		if v.Name == name && v.FS != nil {
			return v, nil
		}
	}
	return nil, fmt.Errorf("point %s disk %q: no filesystem %q", g.m.Name(), disk, name)
}

// randomFiles names the changed files whose first bytes look random
// (encrypted or compressed): Shannon entropy above highEntropy.
func (g *guest) randomFiles(files []changedFile, p *Point) []string {
	var out []string
	for _, cf := range files {
		if cf.size == 0 {
			continue
		}
		h, err := g.entropyOf(cf)
		if err != nil {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %v", cf.path, err))
			continue
		}
		if h > highEntropy {
			out = append(out, cf.path)
		}
	}
	return out
}

func (g *guest) entropyOf(cf changedFile) (float64, error) {
	v, err := g.volume(cf.disk, cf.volume)
	if err != nil {
		return 0, err
	}
	f, err := v.FS.Open(cf.ino)
	if err != nil {
		return 0, fmt.Errorf("open inode %d: %w", cf.ino, err)
	}
	h, err := entropy(f, f.Size())
	if err != nil {
		return 0, fmt.Errorf("read inode %d: %w", cf.ino, err)
	}
	return h, nil
}

// yara runs the yara rules over the changed files and says what it did.
func (g *guest) yara(rules []string, files []changedFile, p *Point) ([]string, string) {
	var in []yaraInput
	skipped := 0
	for _, cf := range files {
		if cf.size > YaraMaxFile {
			skipped++
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %d bytes, larger than %d: not scanned by yara", cf.path, cf.size, YaraMaxFile))
			continue
		}
		in = append(in, yaraInput{name: cf.path, size: cf.size, open: func() (io.ReaderAt, error) {
			v, err := g.volume(cf.disk, cf.volume)
			if err != nil {
				return nil, err
			}
			return v.FS.Open(cf.ino)
		}})
	}
	matches, err := runYara(g.ctx, rules, in)
	if err != nil {
		p.Errors = append(p.Errors, err.Error())
		return nil, "failed"
	}
	return matches, fmt.Sprintf("yara program over %d changed file(s) (%d too large)", len(in), skipped)
}

// countBefore fills f.Before for the extensions with enough deletions to
// trip, from the file index of a.
func countBefore(ctx context.Context, repo *catalog.Repo, a *catalog.Manifest, f *Facts, rules *Rules, p *Point) error {
	want := map[string]bool{}
	for ext, l := range f.Deleted {
		if len(l) >= rules.DeleteMin {
			want[ext] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	ix, err := index.Load(ctx, repo, a, func(err error) { p.Warnings = append(p.Warnings, err.Error()) })
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.Errors = append(p.Errors, fmt.Sprintf("file index of %s: %v", a.Name(), err))
		return nil
	}
	f.Before = map[string]int{}
	for _, v := range ix.Volumes {
		v.Paths(func(i int, path []byte) bool {
			if ext := extension(string(path)); want[ext] {
				if e := v.Entry(i, ""); e.Type() == "file" {
					f.Before[ext]++
				}
			}
			return true
		})
	}
	return nil
}
