package chunker

import "testing"

// BenchmarkMarks is the candidate test's throughput (one worker): the
// pass over every byte that ingest makes before hashing chunks.
func BenchmarkMarks(b *testing.B) {
	data := random(7, 16<<20)
	for _, h := range hashes() {
		b.Run(h.String(), func(b *testing.B) {
			c := cutter(b, Params{256 << 10, 1 << 20, 4 << 20}, h)
			marks := make([]Mark, 0, len(data)/Block)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				marks = c.Marks(marks[:0], data)
			}
		})
	}
}

// BenchmarkSelect is the sequential selection's throughput in disk bytes.
func BenchmarkSelect(b *testing.B) {
	data := random(8, 16<<20)
	c := cutter(b, Params{256 << 10, 1 << 20, 4 << 20}, XXH4K)
	marks := c.Marks(nil, data)
	var out []Piece
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s := c.NewSelector(0)
		out = out[:0]
		for _, m := range marks {
			out = s.Add(out, m, Block)
		}
		out = s.Flush(out)
	}
}
