package fat

import (
	"bufio"
	"strconv"
	"strings"
	"testing"
)

// flsEntry is one allocated name as TSK's fls -r -p lists it.
type flsEntry struct {
	dir bool
	ino string // TSK's metadata address, for istat and icat
}

// fls lists allocated files and directories, leaving out deleted names,
// TSK's virtual files and the volume label entry.
func fls(tb testing.TB, img string) map[string]flsEntry {
	out := map[string]flsEntry{}
	sc := bufio.NewScanner(strings.NewReader(tool(tb, "fls", "-r", "-p", img)))
	for sc.Scan() {
		left, name, ok := strings.Cut(sc.Text(), ":\t")
		if !ok {
			tb.Fatalf("fls line %q", sc.Text())
		}
		f := strings.Fields(left)
		if len(f) != 2 || strings.HasSuffix(name, "(Volume Label Entry)") || f[0] == "v/v" || f[0] == "V/V" {
			continue // "r/r * 12:" is deleted
		}
		out[name] = flsEntry{dir: f[0] == "d/d", ino: f[1]}
	}
	return out
}

// istat returns TSK's istat fields ("Size", "Written", ...) and the sector
// list, with times in UTC.
func istat(tb testing.TB, img, ino string) (map[string]string, []int64) {
	fields := map[string]string{}
	var sectors []int64
	inSectors := false
	for _, line := range strings.Split(tool(tb, "istat", "-z", "UTC", img, ino), "\n") {
		if inSectors {
			for _, w := range strings.Fields(line) {
				if n, err := strconv.ParseInt(w, 10, 64); err == nil && n != 0 {
					sectors = append(sectors, n)
				}
			}
			continue
		}
		if strings.HasPrefix(line, "Sectors:") {
			inSectors = true
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields, sectors
}

// fsstat returns TSK's fsstat "key: value" lines.
func fsstat(tb testing.TB, img string) map[string]string {
	fields := map[string]string{}
	for _, line := range strings.Split(tool(tb, "fsstat", img), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			if _, dup := fields[k]; !dup {
				fields[k] = strings.TrimSpace(v)
			}
		}
	}
	return fields
}

// mdirPaths lists every path as mtools' mdir -/ -b -a shows it; directory
// paths end in "/".
func mdirPaths(tb testing.TB, img string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(tool(tb, "mdir", "-/", "-b", "-a", "-i", img, "::/"), "\n") {
		if p, ok := strings.CutPrefix(line, "::/"); ok {
			out[p] = true
		}
	}
	return out
}

// mattribs returns mtools' attribute letters ("A", "R", "H", "S") per path.
func mattribs(tb testing.TB, img string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(tool(tb, "mattrib", "-/", "-i", img, "::*"), "\n") {
		attrs, p, ok := strings.Cut(line, "::/")
		if ok {
			out[p] = strings.Join(strings.Fields(attrs), "")
		}
	}
	return out
}

// mdirFree is the "bytes free" figure of mdir.
func mdirFree(tb testing.TB, img string) int64 {
	for _, line := range strings.Split(tool(tb, "mdir", "-i", img, "::/"), "\n") {
		if strings.HasSuffix(line, "bytes free") {
			digits := strings.Join(strings.Fields(strings.TrimSuffix(line, "bytes free")), "")
			n, err := strconv.ParseInt(digits, 10, 64)
			if err != nil {
				tb.Fatalf("mdir free line %q: %v", line, err)
			}
			return n
		}
	}
	tb.Fatal("mdir printed no free space")
	return 0
}
