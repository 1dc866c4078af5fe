package fs

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// A FUSE mount reads ahead 128 KiB per request unless its sysfs knob is
// raised; run as root (as the tests are), the mount raises it to 1 MiB.
func TestReadaheadRaised(t *testing.T) {
	testenv.NeedFUSE(t)
	if os.Geteuid() != 0 {
		t.Skip("only root may raise a mount's readahead")
	}
	r := catalog.TestRepo(t)
	mnt, _ := mountRepo(t, r, Options{})
	var st syscall.Stat_t
	if err := syscall.Stat(mnt, &st); err != nil {
		t.Fatal(err)
	}
	knob := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	b, err := os.ReadFile(knob)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != "1024" {
		t.Errorf("%s = %s, want 1024", knob, got)
	}
}
