// Command genfind supports bench/find.sh:
//
//	genfind tree DIR FILES     writes a deterministic tree of about FILES
//	                           files, shaped like a user's home and a system
//	genfind index REPO VM      builds and stores the file index of every
//	                           point of VM, printing time and size per point
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/index"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: genfind tree DIR FILES | genfind index REPO VM")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "tree":
		n, _ := strconv.Atoi(os.Args[3])
		err = tree(os.Args[2], n)
	case "index":
		err = indexAll(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genfind:", err)
		os.Exit(1)
	}
}

var exts = []string{".txt", ".docx", ".pdf", ".c", ".h", ".go", ".jpg", ".conf", ".log", ".xlsx"}

// tree writes users/<u>/<project>/<sub>/file<k><ext>, 8 to 40 files a
// directory, 100 B to 8 KiB each.
func tree(dir string, files int) error {
	seed := uint64(1)
	rnd := func(n int) int {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int(seed>>33) % n
	}
	buf := make([]byte, 8192)
	for i := range buf {
		buf[i] = byte('a' + i%26)
	}
	made := 0
	for d := 0; made < files; d++ {
		p := filepath.Join(dir, "Users", fmt.Sprintf("user%02d", d%20), fmt.Sprintf("project%03d", d/20%50), fmt.Sprintf("sub%d", d/1000))
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		for k, n := 0, 8+rnd(33); k < n && made < files; k++ {
			name := fmt.Sprintf("file%d%s", k, exts[rnd(len(exts))])
			if rnd(50) == 0 {
				name = fmt.Sprintf("report-%d.docx", made)
			}
			b := buf[:100+rnd(8092)]
			b[0] = byte(made) // distinct content
			if err := os.WriteFile(filepath.Join(p, name), b, 0o644); err != nil {
				return err
			}
			made++
		}
	}
	return nil
}

func indexAll(dir, vm string) error {
	ctx := context.Background()
	repo, err := catalog.Open(ctx, dir, catalog.Options{Command: "genfind"})
	if err != nil {
		return err
	}
	defer repo.Close()
	pts, err := repo.Points(vm)
	if err != nil {
		return err
	}
	var total time.Duration
	var size int
	for _, m := range pts {
		start := time.Now()
		ix, err := index.Build(ctx, repo, m)
		if err != nil {
			return err
		}
		el := time.Since(start)
		if err := index.Store(repo, m, ix); err != nil {
			return err
		}
		n := 0
		for _, v := range ix.Volumes {
			n += v.Len()
		}
		total += el
		size += ix.Size()
		fmt.Printf("index %s: %d entries, %d bytes, built in %s\n", m.Name(), n, ix.Size(), el.Round(time.Millisecond))
	}
	if len(pts) > 0 {
		fmt.Printf("index per point: %d bytes, %s to build (mean of %d)\n", size/len(pts), (total / time.Duration(len(pts))).Round(time.Millisecond), len(pts))
	}
	return nil
}
