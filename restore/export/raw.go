package export

import "context"

// writeRaw writes the disk byte for byte; holes become holes of the file.
func writeRaw(ctx context.Context, s *sink, src Source, _ Options) error {
	return src.Stream(ctx, func(e Extent, b []byte) error {
		if b == nil {
			return s.Zero(e.Len)
		}
		return s.Write(b)
	})
}
