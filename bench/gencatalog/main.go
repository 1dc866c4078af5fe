// Command gencatalog fills a repository with many VMs and points that all
// share one ingested disk image, to measure the mount at catalog scale:
//
//	gencatalog -repo DIR -image disk.raw -vms 100 -points 50
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
)

func main() {
	repoDir := flag.String("repo", "", "repository (created if absent)")
	img := flag.String("image", "", "disk image every point holds")
	vms := flag.Int("vms", 100, "number of VMs")
	points := flag.Int("points", 50, "points per VM")
	flag.Parse()
	if err := run(*repoDir, *img, *vms, *points); err != nil {
		fmt.Fprintln(os.Stderr, "gencatalog:", err)
		os.Exit(1)
	}
}

func run(dir, img string, vms, points int) error {
	ctx := context.Background()
	if _, err := os.Stat(dir); err != nil {
		if _, err := catalog.Init(ctx, dir, catalog.InitOptions{}); err != nil {
			return err
		}
	}
	r, err := catalog.Open(ctx, dir, catalog.Options{Command: "gencatalog"})
	if err != nil {
		return err
	}
	defer r.Close()
	d, err := image.Open(img)
	if err != nil {
		return err
	}
	defer d.Close()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	first, err := ingest.Ingest(ctx, r, ingest.Options{VM: "vm000", Time: base}, []ingest.DiskSpec{{Name: "disk0", Disk: d, Format: d.Format()}})
	if err != nil {
		return err
	}
	// Every other point is a copy of the first one's manifest, sharing its
	// disk map, committed in bulk.
	var ids []catalog.PointID
	for v := 0; v < vms; v++ {
		for p := 0; p < points; p++ {
			if v > 0 || p > 0 {
				ids = append(ids, catalog.NewPointID(fmt.Sprintf("vm%03d", v), base.Add(time.Duration(p)*24*time.Hour)))
			}
		}
	}
	if err := r.CommitCopies(ctx, first.ID(), ids); err != nil {
		return err
	}
	fmt.Printf("%d VMs x %d points in %s\n", vms, points, dir)
	return nil
}
