package catalog_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// TestChunkStoredSize: a chunk of random bytes is stored raw, its size
// the extent's length; a chunk of text compresses. Formats 1 and 2, and
// encrypted (the seal is taken off).
func TestChunkStoredSize(t *testing.T) {
	const n = catalog.MinChunkSize
	disk := make([]byte, 2*n)
	rand.Read(disk[:n])
	copy(disk[n:], bytes.Repeat([]byte("plain text compresses well\n"), n/27+1))
	for name, repo := range map[string]*catalog.Repo{
		"format1":   catalog.TestRepo1(t),
		"format2":   catalog.TestRepo2(t),
		"encrypted": catalog.TestEncryptedRepo(t, "pw"),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			m := catalog.TestWritePoint(t, repo, "vm", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), map[string][]byte{"disk0": disk})
			dm, err := repo.OpenDiskMap(ctx, m, &m.Disks[0])
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			err = dm.Extents(ctx, 0, dm.Size(), func(e catalog.Extent) error {
				s, known, err := repo.ChunkStoredSize(e.ID)
				if !known || err != nil {
					t.Fatalf("chunk at %d: known %v, %v", e.Off, known, err)
				}
				got = append(got, s)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0] != n || got[1] >= n/10 {
				t.Errorf("stored sizes %v, want %d (raw) and a small one", got, n)
			}
			if _, known, err := repo.ChunkStoredSize(catalog.HashChunk([]byte("absent"))); known || err != nil {
				t.Errorf("absent chunk: known %v, %v", known, err)
			}
		})
	}
}
