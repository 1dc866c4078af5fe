package vmdk

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"strings"
	"testing"
)

// TestInflateFormats checks both encodings a grain may use, the Adler-32
// check of zlib grains, and the size checks.
func TestInflateFormats(t *testing.T) {
	want := []byte(strings.Repeat("grain data 0123456789 ", 3000))[:65536]
	var zb, fb bytes.Buffer
	zw := zlib.NewWriter(&zb)
	zw.Write(want)
	zw.Close()
	fw, _ := flate.NewWriter(&fb, flate.DefaultCompression)
	fw.Write(want)
	fw.Close()
	for name, z := range map[string][]byte{"zlib": zb.Bytes(), "deflate": fb.Bytes()} {
		for range 3 { // pooled readers are reused
			got := make([]byte, len(want))
			if err := inflate(got, z, 0); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: err %v, equal %v", name, err, bytes.Equal(got, want))
			}
		}
		if err := inflate(make([]byte, len(want)+1), z, 0); err == nil {
			t.Errorf("%s: short stream accepted", name)
		}
		if err := inflate(make([]byte, len(want)-10), z, 0); err == nil {
			t.Errorf("%s: long stream accepted", name)
		}
		if err := inflate(make([]byte, len(want)-10), z, 10); err != nil {
			t.Errorf("%s: whole tail grain refused: %v", name, err)
		}
	}
	bad := bytes.Clone(zb.Bytes())
	bad[len(bad)-1] ^= 0xff // Adler-32
	if err := inflate(make([]byte, len(want)), bad, 0); err == nil {
		t.Error("zlib checksum mismatch accepted")
	}
}
