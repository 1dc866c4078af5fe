// Command gengc fills a repository with many small chunks for the gc
// benchmark: -points points of one VM, each a disk of -chunks chunks of
// which -share come from the previous point and the rest are new, so the
// store holds about chunks + (points-1)*(chunks-share) objects.
//
//	gengc -repo DIR -points 6 -chunks 300000 -share 150000
//
// The chunks are 64 random bytes each, not ChunkSize: gc never reads data
// chunks (only map blocks), so this measures gc at catalog scale without
// writing terabytes. Such a point cannot be read back.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/format"
)

func main() {
	dir := flag.String("repo", "", "repository to create")
	points := flag.Int("points", 6, "points")
	chunks := flag.Int64("chunks", 300000, "chunks per point")
	share := flag.Int64("share", 150000, "chunks shared with the previous point")
	flag.Parse()
	if err := run(*dir, *points, *chunks, *share); err != nil {
		fmt.Fprintln(os.Stderr, "gengc:", err)
		os.Exit(1)
	}
}

func run(dir string, points int, chunks, share int64) error {
	ctx := context.Background()
	if _, err := catalog.Init(ctx, dir, catalog.InitOptions{Chunking: format.DefaultChunking(catalog.MinChunkSize)}); err != nil {
		return err
	}
	r, err := catalog.Open(ctx, dir, catalog.Options{Command: "gengc"})
	if err != nil {
		return err
	}
	defer r.Close()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := make([]catalog.ChunkID, chunks)
	for p := 0; p < points; p++ {
		w := r.NewWriter()
		cur := make([]catalog.ChunkID, chunks)
		first := int64(0)
		if p > 0 {
			copy(cur[:share], prev[chunks-share:]) // the old tail is the new head
			first = share
		}
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for g := int64(0); g < 2; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				enc := catalog.NewEncoder()
				buf := make([]byte, 64)
				for i := first + g; i < chunks; i += 2 {
					rand.Read(buf)
					res, err := w.Add(ctx, enc, buf)
					if err != nil {
						errs <- err
						return
					}
					cur[i] = res.ID
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
		mb := w.NewMapBuilder(chunks * int64(catalog.MinChunkSize))
		for i, id := range cur {
			if err := mb.Set(ctx, int64(i), id); err != nil {
				return err
			}
		}
		root, err := mb.Finish(ctx)
		if err != nil {
			return err
		}
		m := &catalog.Manifest{VM: "vm0", Time: base.Add(time.Duration(p) * 24 * time.Hour), Created: time.Now().UTC(),
			Disks: []catalog.DiskRecord{{Name: "disk0", Size: chunks * int64(catalog.MinChunkSize), Map: root}}}
		if err := w.Commit(ctx, m); err != nil {
			return err
		}
		prev = cur
		fmt.Fprintf(os.Stderr, "gengc: point %d/%d\n", p+1, points)
	}
	return nil
}
