package vhdx

import "fmt"

// GUID is a GUID as stored on disk: the first three fields little-endian.
type GUID [16]byte

// mustGUID parses the canonical text form of a well-known GUID.
func mustGUID(s string) GUID {
	var raw [16]byte
	var a uint32
	var b, c, dd uint16
	var e uint64
	if _, err := fmt.Sscanf(s, "%08x-%04x-%04x-%04x-%012x", &a, &b, &c, &dd, &e); err != nil {
		panic("bad GUID literal " + s)
	}
	raw[0], raw[1], raw[2], raw[3] = byte(a), byte(a>>8), byte(a>>16), byte(a>>24)
	raw[4], raw[5] = byte(b), byte(b>>8)
	raw[6], raw[7] = byte(c), byte(c>>8)
	raw[8], raw[9] = byte(dd>>8), byte(dd)
	for i := range 6 {
		raw[10+i] = byte(e >> (40 - 8*i))
	}
	return raw
}

// String is the canonical text form, in upper case as Windows writes it.
func (g GUID) String() string {
	return fmt.Sprintf("%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
		g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15])
}

// IsZero reports whether g is all zeros.
func (g GUID) IsZero() bool { return g == GUID{} }

// Region and metadata item GUIDs of MS-VHDX.
var (
	regionBAT      = mustGUID("2DC27766-F623-4200-9D64-115E9BFD4A08")
	regionMetadata = mustGUID("8B7CA206-4790-4B9A-B8FE-575F050F886E")

	itemFileParameters = mustGUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
	itemDiskSize       = mustGUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
	itemPage83         = mustGUID("BECA12AB-B2E6-4523-93EF-C309E000C746")
	itemLogicalSector  = mustGUID("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
	itemPhysicalSector = mustGUID("CDA348C7-445D-4471-9CC9-E9885251C556")
	itemParentLocator  = mustGUID("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")

	locatorTypeVHDX = mustGUID("B04AEFB7-D19E-4A81-B789-25B8E9445913")
)
