package ntfs

import (
	"archive/tar"
	"flag"
	"io"
	"os"
	"testing"
)

var benchImage = flag.String("ntfs.bench.image", os.Getenv("NTFS_BENCH_IMAGE"), "NTFS image for BenchmarkTarImage")

// BenchmarkTarImage writes a tar of the whole volume (headers and file
// data) to io.Discard, as bench/ntfs.sh compares with tar over ntfs-3g.
// Files are read with 128 KiB ReadAt calls, the largest read FUSE passes
// to a filesystem, so the package sees what it would see under a mount.
func BenchmarkTarImage(b *testing.B) {
	if *benchImage == "" {
		b.Skip("set -ntfs.bench.image or NTFS_BENCH_IMAGE")
	}
	buf := make([]byte, 128<<10)
	for i := 0; i < b.N; i++ {
		fsys := openImage(b, *benchImage, nil)
		tw := tar.NewWriter(io.Discard)
		var total int64
		var tarDir func(ino uint64, path string)
		tarDir = func(ino uint64, path string) {
			ents, err := fsys.ReadDir(ino)
			if err != nil {
				b.Fatal(err)
			}
			for _, de := range ents {
				at, err := fsys.Stat(de.Ino)
				if err != nil {
					b.Fatal(err)
				}
				h := &tar.Header{Name: path + de.Name, Mode: int64(at.Mode & 0o7777), ModTime: at.Mtime, Typeflag: tar.TypeReg}
				switch at.Mode & 0o170000 {
				case sIFDIR:
					h.Typeflag = tar.TypeDir
					tw.WriteHeader(h)
					tarDir(de.Ino, path+de.Name+"/")
					continue
				case sIFREG:
					h.Size = at.Size
				default:
					continue
				}
				if err := tw.WriteHeader(h); err != nil {
					b.Fatal(err)
				}
				f, err := fsys.Open(de.Ino)
				if err != nil {
					b.Fatal(err)
				}
				for off := int64(0); off < f.Size(); {
					n, err := f.ReadAt(buf, off)
					if n == 0 && err != nil {
						b.Fatalf("%s%s at %d: %v", path, de.Name, off, err)
					}
					if _, err := tw.Write(buf[:n]); err != nil {
						b.Fatal(err)
					}
					off += int64(n)
				}
				total += f.Size()
			}
		}
		tarDir(fsys.Root(), "")
		b.SetBytes(total)
	}
}
