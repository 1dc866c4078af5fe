package format

import (
	"strings"
	"testing"
)

func TestValidDiskName(t *testing.T) {
	for _, s := range []string{"config", "CONFIG", "Latest", "d.img", "disk0.IMG", "changes.txt", "Changes.JSON"} {
		err := ValidDiskName(s)
		if err == nil || !strings.Contains(err.Error(), `disk name "`+s+`"`) {
			t.Errorf("%q: %v, want refused naming it", s, err)
		}
		if ValidName("disk", s) != nil {
			t.Errorf("%q: stored manifests must stay readable", s)
		}
	}
	for _, s := range []string{"disk0", "img", "configs", "d.img0", "d.imgx", "scsi0-1", "latest2"} {
		if err := ValidDiskName(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	if err := ValidDiskName("a/b"); err == nil {
		t.Error("a/b accepted")
	}
}
