package local_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/backend/backendtest"
	"github.com/vmarchive/vmarchive/catalog/backend/local"
)

func TestSuite(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		b, err := local.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestRejectsEscapingNames(t *testing.T) {
	dir := t.TempDir()
	b, err := local.New(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"../outside", "/abs", "", "a/../../b"} {
		if err := b.Put(context.Background(), n, []byte("x")); err == nil {
			t.Errorf("Put(%q) succeeded", n)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "outside")); err == nil {
		t.Fatal("object escaped the store")
	}
}

func TestLeftoverTempFilesAreNotListed(t *testing.T) {
	dir := t.TempDir()
	b, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "data", "00"), 0o700)
	os.WriteFile(filepath.Join(dir, "data", "00", ".tmp-123"), []byte("partial"), 0o600)
	n := 0
	b.List(context.Background(), "data/", func(string, int64) error { n++; return nil })
	if n != 0 {
		t.Fatalf("listed %d objects, want 0 (temp files are not objects)", n)
	}
}
