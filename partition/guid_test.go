package partition

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// TestGUIDString checks the fast formatter against the field-wise definition.
func TestGUIDString(t *testing.T) {
	g := guid{0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b}
	want := fmt.Sprintf("%08X-%04X-%04X-%X-%X", binary.LittleEndian.Uint32(g[0:4]),
		binary.LittleEndian.Uint16(g[4:6]), binary.LittleEndian.Uint16(g[6:8]), g[8:10], g[10:16])
	if got := g.String(); got != want || got != "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" {
		t.Errorf("String() = %s, want %s", got, want)
	}
}
