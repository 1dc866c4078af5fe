package catalog

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// BenchmarkWriterAdd stores new 1 MiB chunks (half random, half text, as
// zstd sees a typical disk) through Writer.Add: hash, compress, seal when
// encrypted, write. The encrypted/plain ratio is the catalog's share of
// the "encrypted ingest >= 85% of plain".
func BenchmarkWriterAdd(b *testing.B) {
	for _, enc := range []bool{false, true} {
		name := "plain"
		if enc {
			name = "encrypted"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			r := TestRepoWith(b, InitOptions{Chunking: format.DefaultChunking(DefaultChunkSize), Encrypt: enc, Password: []byte("bench")})
			cs := DefaultChunkSize
			chunk := testDisk(5, 2, cs/2)[:cs] // random half, text half
			w := r.NewWriter()
			e := NewEncoder()
			b.SetBytes(int64(cs))
			var n uint64
			for b.Loop() {
				n++
				binary.LittleEndian.PutUint64(chunk, n) // a new chunk each time
				if res, err := w.Add(ctx, e, chunk); err != nil || !res.New {
					b.Fatalf("%+v %v", res, err)
				}
			}
		})
	}
}
