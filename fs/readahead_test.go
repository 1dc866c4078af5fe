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
	dev := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	if got, err := mountDevice(mnt); got != dev || err != nil {
		t.Errorf("mountDevice(%s) = %q, %v; stat says %s", mnt, got, err, dev)
	}
	knob := "/sys/class/bdi/" + dev + "/read_ahead_kb"
	b, err := os.ReadFile(knob)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != "1024" {
		t.Errorf("%s = %s, want 1024", knob, got)
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/tab\011`: "/tab\t", `/back\134s`: `/back\s`, `/plain`: "/plain", `/odd\04`: `/odd\04`} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}
