package ext4

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var reStatGen = regexp.MustCompile(`Inode: (\d+)\s[\s\S]*?Generation: (\d+)`)

// TestGeneration gives a few inodes distinct i_generation values with
// debugfs (mke2fs -d leaves them all 0) and compares Stat's Generation with
// what debugfs stat prints, on 256- and 128-byte inodes.
func TestGeneration(t *testing.T) {
	for _, v := range []string{"ext4", "i128", "ext2"} {
		t.Run(v, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "img")
			src, err := os.ReadFile(testImage(t, v))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(img, src, 0o644); err != nil {
				t.Fatal(err)
			}
			var inos []uint64
			for _, e := range walk(t, openImage(t, img, nil)) {
				inos = append(inos, e.Ino)
			}
			sort.Slice(inos, func(i, j int) bool { return inos[i] < inos[j] })
			inos = inos[:min(len(inos), 6)]
			// Set all but the first; the high bit checks it stays unsigned.
			var set []string
			for i, ino := range inos[1:] {
				set = append(set, fmt.Sprintf("sif <%d> generation %d", ino, 0x80000001+uint32(i)*0x1000193))
			}
			f := filepath.Join(t.TempDir(), "cmds")
			if err := os.WriteFile(f, []byte(strings.Join(set, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("debugfs", "-w", "-f", f, img).CombinedOutput(); err != nil {
				t.Fatalf("debugfs -w: %v\n%s", err, out)
			}
			var stat []string
			for _, ino := range inos {
				stat = append(stat, fmt.Sprintf("stat <%d>", ino))
			}
			fs := openImage(t, img, nil)
			ms := reStatGen.FindAllStringSubmatch(debugfs(t, img, stat), -1)
			if len(ms) != len(inos) {
				t.Fatalf("debugfs stat: %d generations for %d inodes", len(ms), len(inos))
			}
			distinct := map[uint32]bool{}
			for _, m := range ms {
				ino, _ := strconv.ParseUint(m[1], 10, 64)
				want, _ := strconv.ParseUint(m[2], 10, 32)
				a, err := fs.Stat(ino)
				if err != nil {
					t.Fatalf("Stat %d: %v", ino, err)
				}
				if uint64(a.Generation) != want {
					t.Errorf("inode %d: Generation %d, debugfs %d", ino, a.Generation, want)
				}
				distinct[a.Generation] = true
			}
			if len(distinct) != len(inos) {
				t.Errorf("%d distinct generations over %d inodes: sif did not take", len(distinct), len(inos))
			}
		})
	}
}
