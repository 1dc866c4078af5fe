package vmdk

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// descriptorSeeds are malformed or edge-case descriptors for the fuzzer.
var descriptorSeeds = []string{
	"version=1\ncreateType=\"monolithicSparse\"\nRW 0 ZERO\n",
	"# Disk DescriptorFile\nversion=1\ncreateType=\"x\"\nRW 12 FLAT \"unterminated\n",
	"# Disk DescriptorFile\ncreateType=\"x\"\ncreateType=\"y\"\n",
	"# Disk DescriptorFile\ncreateType=\"x\"\nRW -5 FLAT \"a\" 0\n",
}

func TestParseDescriptor(t *testing.T) {
	type ext = ExtentDesc
	tests := []struct {
		file       string
		createType string
		parent     uint32
		extents    []ext
		ddbKey     string
		ddbVal     string
	}{
		{"twoGbMaxExtentSparse.desc", "twoGbMaxExtentSparse", NoParent, []ext{
			{"RW", 4194304, "SPARSE", "tg-s001.vmdk", 0},
			{"RW", 4194304, "SPARSE", "tg-s002.vmdk", 0},
			{"RW", 2097152, "SPARSE", "tg-s003.vmdk", 0},
		}, "ddb.adapterType", "ide"},
		{"twoGbMaxExtentFlat.desc", "twoGbMaxExtentFlat", NoParent, []ext{
			{"RW", 4194304, "FLAT", "tf-f001.vmdk", 0},
			{"RW", 4194304, "FLAT", "tf-f002.vmdk", 0},
			{"RW", 2097152, "FLAT", "tf-f003.vmdk", 0},
		}, "ddb.geometry.heads", "16"},
		{"monolithicFlat.desc", "monolithicFlat", NoParent, []ext{
			{"RW", 2097152, "FLAT", "mf-flat.vmdk", 0},
		}, "ddb.virtualHWVersion", "4"},
		{"delta.desc", "monolithicSparse", 0x69ad230a, []ext{
			{"RW", 2097152, "SPARSE", "delta.vmdk", 0},
		}, "ddb.toolsVersion", "2147483647"},
		{"esxi-vmfs.desc", "vmfs", NoParent, []ext{
			{"RW", 41943040, "VMFS", "My VM-flat.vmdk", 0},
		}, "ddb.uuid", "60 00 C2 9a 3c 5e 4d 34-b4 a4 b4 e8 1e 6b 3e 11"},
		{"mixed-crlf.desc", "custom", NoParent, []ext{
			{"RW", 2048, "FLAT", "disk a.bin", 4096},
			{"RDONLY", 1024, "ZERO", "", 0},
			{"NOACCESS", 512, "SPARSE", "s.vmdk", 0},
			{"RW", 100, "FLAT", "t.bin", 7},
		}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !IsDescriptor(b) {
				t.Error("IsDescriptor = false")
			}
			d, err := ParseDescriptor(b)
			if err != nil {
				t.Fatal(err)
			}
			if d.CreateType != tc.createType || d.ParentCID != tc.parent || d.Version != 1 {
				t.Errorf("createType %q parentCID %08x version %d; want %q %08x 1", d.CreateType, d.ParentCID, d.Version, tc.createType, tc.parent)
			}
			if len(d.Extents) != len(tc.extents) {
				t.Fatalf("extents %+v, want %+v", d.Extents, tc.extents)
			}
			for i := range d.Extents {
				if d.Extents[i] != tc.extents[i] {
					t.Errorf("extent %d = %+v, want %+v", i, d.Extents[i], tc.extents[i])
				}
			}
			if tc.ddbKey != "" && d.DDB[tc.ddbKey] != tc.ddbVal {
				t.Errorf("DDB[%s] = %q, want %q", tc.ddbKey, d.DDB[tc.ddbKey], tc.ddbVal)
			}
		})
	}
}

func TestParseDescriptorErrors(t *testing.T) {
	for _, s := range append(descriptorSeeds[1:],
		"version=1\n",                          // no createType
		"createType=\"a\"\nRW 1 BOGUS \"f\"\n", // unknown extent type
		"createType=\"a\"\nRW 1 FLAT\n",        // no file
		"createType=\"a\"\nthis line is junk\n",
	) {
		if _, err := ParseDescriptor([]byte(s)); !errors.Is(err, vdisk.ErrCorrupt) {
			t.Errorf("ParseDescriptor(%q) = %v, want ErrCorrupt", s, err)
		}
	}
}

// TestParseDescriptorErrorChain: a bad number keeps strconv's error in the
// chain (errors.Is), next to ErrCorrupt.
func TestParseDescriptorErrorChain(t *testing.T) {
	for _, tc := range []struct {
		text string
		want error
	}{
		{"createType=\"a\"\nCID=zz\n", strconv.ErrSyntax},
		{"createType=\"a\"\nRW 1x FLAT \"f\"\n", strconv.ErrSyntax},
		{"createType=\"a\"\nRW 1 FLAT \"f\" 99999999999999999999\n", strconv.ErrRange},
	} {
		_, err := ParseDescriptor([]byte(tc.text))
		if !errors.Is(err, vdisk.ErrCorrupt) || !errors.Is(err, tc.want) {
			t.Errorf("ParseDescriptor(%q) = %v, want ErrCorrupt and %v in the chain", tc.text, err, tc.want)
		}
	}
}

// TestIsDescriptor: descriptors are found by their keys past comments and
// blank lines; binary data and prose are not descriptors.
func TestIsDescriptor(t *testing.T) {
	for text, want := range map[string]bool{
		"# Disk DescriptorFile\nversion=1\n":                   true,
		"# tool 1.0\r\n\r\n#  disk   descriptorfile\r\n":       true,
		"# tool\n\n   \nversion=1\nCID=1\n":                    true,
		"CID=1\nparentCID=ffffffff\ncreateType=\"vmfs\"\n":     true,
		"# x\nRW 2048 VMFS \"a\x1b[2J-flat.vmdk\"\n":           true,
		"\xeb\x3c\x90mkfs.fat\x00\x02\x04createType=\"x\"\n":   false,
		"Hello world, this is a README\ncreateType=\"vmfs\"\n": false,
		"CID=1\nversion=1\n":                                   false,
		"":                                                     false,
	} {
		if got := IsDescriptor([]byte(text)); got != want {
			t.Errorf("IsDescriptor(%q) = %v, want %v", text, got, want)
		}
	}
}
