package vsphere

import (
	"slices"
	"testing"

	"github.com/vmarchive/vmarchive/ingest/image"
)

func TestSplit(t *testing.T) {
	ext := []image.Extent{{Off: 10, Len: 5}, {Off: 20, Len: 10}}
	got := split(0, 40, ext)
	want := []piece{{image.Extent{Off: 0, Len: 10}, false}, {image.Extent{Off: 10, Len: 5}, true}, {image.Extent{Off: 15, Len: 5}, false}, {image.Extent{Off: 20, Len: 10}, true}, {image.Extent{Off: 30, Len: 10}, false}}
	if !slices.Equal(got, want) {
		t.Fatalf("split = %v, want %v", got, want)
	}
	if got := split(12, 10, ext); !slices.Equal(got, []piece{{image.Extent{Off: 12, Len: 3}, true}, {image.Extent{Off: 15, Len: 5}, false}, {image.Extent{Off: 20, Len: 2}, true}}) {
		t.Fatalf("split inside = %v", got)
	}
}
