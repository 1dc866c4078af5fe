package xfs

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestAllocation: the used space Allocation reports plus the free blocks
// each AGF counts (xfs_db) is the whole volume, and every file's extents
// lie inside used space.
func TestAllocation(t *testing.T) {
	for _, v := range []string{"v5", "v4-512"} {
		t.Run(v, func(t *testing.T) {
			img := testImage(t, v)
			fs := openImage(t, img, nil)
			used, err := fs.Allocation()
			if err != nil {
				t.Fatal(err)
			}
			var usedBytes int64
			for _, r := range used {
				usedBytes += r.Len
			}
			var cmds []string
			for ag := uint32(0); ag < fs.sb.agCount; ag++ {
				cmds = append(cmds, fmt.Sprintf("agf %d", ag), "print freeblks")
			}
			var free int64
			for _, line := range strings.Split(xfsDB(t, img, cmds), "\n") {
				if v, ok := strings.CutPrefix(line, "freeblks = "); ok {
					n, _ := strconv.ParseInt(v, 10, 64)
					free += n
				}
			}
			if total := int64(fs.sb.dblocks) << fs.sb.blockLog; usedBytes+free<<fs.sb.blockLog != total {
				t.Fatalf("used %d + free %d blocks != %d bytes", usedBytes, free, total)
			}
			for p, e := range walk(t, fs) {
				if e.Mode != sIFREG {
					continue
				}
				f, _ := fs.Open(e.Ino)
				es, err := f.Extents()
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range es {
					if !covered(used, x.Physical, x.Length) {
						t.Fatalf("%s: extent %+v is in free space", p, x)
					}
				}
			}
		})
	}
}

func covered(rs []Range, off, n int64) bool {
	for _, r := range rs {
		if off >= r.Off && off+n <= r.Off+r.Len {
			return true
		}
	}
	return false
}
