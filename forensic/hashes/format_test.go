package hashes

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func seedSums() []Sums {
	return []Sums{
		{Path: "disk0/p1/etc/hosts", Size: 120, MD5: [16]byte{1}, SHA1: [20]byte{2}, SHA256: [32]byte{3}, HasKey: true, Key: [16]byte{9, 9}},
		{Path: "disk0/p1/näme\nwith newline", Size: 0, SHA256: [32]byte{0xe3}},
		{Path: "disk1/fs/bad", Size: 4096, Err: "read chunk 5: missing", HasKey: true},
	}
}

func encodeAll(ss []Sums) []byte {
	var plain []byte
	for i := range ss {
		plain = appendRecord(plain, &ss[i])
	}
	return encode(len(ss), plain)
}

func TestEncodeDecode(t *testing.T) {
	want := seedSums()
	b := encodeAll(want)
	var got []Sums
	if err := decode(b, func(s *Sums) error { got = append(got, *s); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("record %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// Every truncation and a wrong version are errors wrapping ErrCorrupt.
	for n := 0; n < len(b); n++ {
		if err := decode(b[:n], func(*Sums) error { return nil }); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
	bad := bytes.Clone(b)
	bad[len(magic)] = 9
	if err := decode(bad, func(*Sums) error { return nil }); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("version 9: %v", err)
	}
}

// A decoded cache encodes back to the same bytes: nothing is lost or
// invented, and no input panics or allocates without bound.
func FuzzDecode(f *testing.F) {
	f.Add(encodeAll(seedSums()))
	f.Add(encodeAll(nil))
	f.Add([]byte(magic + "\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var got []Sums
		if err := decode(b, func(s *Sums) error { got = append(got, *s); return nil }); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		var again []Sums
		if err := decode(encodeAll(got), func(s *Sums) error { again = append(again, *s); return nil }); err != nil {
			t.Fatalf("re-encoded: %v", err)
		}
		if len(again) != len(got) {
			t.Fatalf("%d records re-decoded, %d decoded", len(again), len(got))
		}
		for i := range got {
			if again[i] != got[i] {
				t.Fatalf("record %d: %+v then %+v", i, got[i], again[i])
			}
		}
	})
}

func TestWriterFormats(t *testing.T) {
	for _, c := range []struct {
		format, algos, want string
	}{
		{"hashdeep", "", "%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n## Invoked from: /x\n## $ cmd\n## \n" +
			"120,01000000000000000000000000000000,0300000000000000000000000000000000000000000000000000000000000000,disk0/p1/etc/hosts\n" +
			"0,00000000000000000000000000000000,e300000000000000000000000000000000000000000000000000000000000000,disk0/p1/näme\\nwith newline\n"},
		{"hashdeep", "sha1,md5", "%%%% HASHDEEP-1.0\n%%%% size,md5,sha1,filename\n"},
		{"sha256sum", "", "0300000000000000000000000000000000000000000000000000000000000000  disk0/p1/etc/hosts\n" +
			"\\e300000000000000000000000000000000000000000000000000000000000000  disk0/p1/näme\\nwith newline\n"},
		{"sha256sum", "md5", "01000000000000000000000000000000  disk0/p1/etc/hosts\n"},
	} {
		var algos []string
		if c.algos != "" {
			algos = strings.Split(c.algos, ",")
		}
		var buf bytes.Buffer
		w, err := NewWriter(&buf, c.format, algos, "/x", "cmd")
		if err != nil {
			t.Fatal(err)
		}
		w.Header()
		for _, s := range seedSums() {
			if err := w.Write(&s); err != nil {
				t.Fatal(err)
			}
		}
		w.Flush()
		if !strings.HasPrefix(buf.String(), c.want) {
			t.Errorf("%s %s:\n%s\nwant prefix\n%s", c.format, c.algos, buf.String(), c.want)
		}
		if strings.Contains(buf.String(), "bad") {
			t.Errorf("%s: a file without sums has a line", c.format)
		}
	}
	for _, c := range [][2]string{{"sha256sum", "md5,sha1"}, {"hashdeep", "crc32"}, {"md5deep", ""}} {
		if _, err := NewWriter(&bytes.Buffer{}, c[0], strings.Split(c[1], ","), "", ""); err == nil {
			t.Errorf("format %s algos %s: no error", c[0], c[1])
		}
	}
}
