package service

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
)

// imageDisk is the disk name of an image job's points: one image, one disk.
const imageDisk = "disk0"

// captureImages ingests every image of the job's directory that matches,
// one VM each, named by the file name without its extension.
func (s *Service) captureImages(ctx context.Context, j *JobConfig, sem chan struct{}, add func(VMRun, *catalog.Manifest)) error {
	files, err := filepath.Glob(filepath.Join(j.Images.Dir, j.Images.Match))
	if err != nil {
		return fmt.Errorf("images %s: %w", j.Images.Dir, err)
	}
	sort.Strings(files)
	var mu sync.Mutex // add is called serially
	var wg sync.WaitGroup
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.IsDir() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := VMRun{VM: vmFromBasename(f)}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			v.Start = time.Now().UTC()
			m, err := s.ingestImage(ctx, v.VM, f)
			<-sem
			v.End = time.Now().UTC()
			if err != nil {
				v.Error = err.Error()
			} else {
				figures(&v, m)
			}
			mu.Lock()
			defer mu.Unlock()
			add(v, m)
		}()
	}
	wg.Wait()
	return nil
}

// vmFromBasename is the file name without its extension ("web01.qcow2":
// web01).
func vmFromBasename(path string) string {
	b := filepath.Base(path)
	if i := strings.IndexByte(b[1:], '.'); i >= 0 {
		return b[:i+1]
	}
	return b
}

// ingestImage captures one image file as a new point of vm.
func (s *Service) ingestImage(ctx context.Context, vm, path string) (*catalog.Manifest, error) {
	if err := catalog.ValidName("VM", vm); err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	d, err := image.OpenAs(path, "")
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	defer d.Close()
	ld := limitedDisk{Disk: d, r: s.limiter().ReaderAt(ctx, d)}
	spec := ingest.DiskSpec{Name: imageDisk, Disk: ld, Source: path, Format: d.Format()}
	specs := []ingest.DiskSpec{spec}
	walk := StartIngestWalk(ctx, s.repo, specs)
	defer walk.Cancel()
	m, err := ingest.Ingest(ctx, s.repo, ingest.Options{VM: vm, SourceKind: "image", Committing: walk.Committing(s.repo)}, specs)
	if err != nil {
		return nil, err
	}
	if err := walk.Finish(ctx, s.repo, m, func(error) {}); err != nil && ctx.Err() == nil {
		s.log.Warn("file index not built (find builds it when needed)", "point", m.ID().String(), "err", err)
	}
	return m, nil
}

// limitedDisk is an image whose reads take from limits.bwlimit.
type limitedDisk struct {
	image.Disk
	r io.ReaderAt
}

func (d limitedDisk) ReadAt(p []byte, off int64) (int, error) { return d.r.ReadAt(p, off) }
