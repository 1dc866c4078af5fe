package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// noSpace fails every write once switched on, as a full disk does.
func noSpace() *errorfs.Toggle {
	return &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return fmt.Errorf("write %s: %w", op.Path, syscall.ENOSPC)
		}
		return nil
	})}
}

// within fails the test when fn does not return in time: a hang.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { fn(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s hung", what)
	}
}

// TestCommitFaultIsAnError: a failed WAL write makes pebble call Fatalf
// ("fatal commit error"); it reaches the caller as an error naming the
// full disk, later writes fail at once, reads and Close still work.
func TestCommitFaultIsAnError(t *testing.T) {
	inj := noSpace()
	c, err := openPebbleFS("cat", false, errorfs.Wrap(vfs.NewMem(), inj))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set([]byte("a"), []byte("1"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	inj.On()
	within(t, "a commit on a full disk", func() {
		err = c.Set([]byte("b"), []byte("2"), pebble.Sync)
	})
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "catalog cat: no space left on device") {
		t.Fatalf("commit on a full disk: %v", err)
	}
	within(t, "a later batch", func() {
		b := c.NewBatch()
		b.Set([]byte("c"), []byte("3"), nil)
		err = b.Commit(pebble.Sync)
	})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("a later batch: %v", err)
	}
	v, closer, err := c.Get([]byte("a"))
	if err != nil || !bytes.Equal(v, []byte("1")) {
		t.Fatalf("read after the fault: %q, %v", v, err)
	}
	closer.Close()
	within(t, "Close", func() { c.Close() })
}

// TestFailingFlushEndsWrites: a flush that fails in pebble's background is
// retried forever by pebble; the catalog's writes end with the error
// instead of stalling, and nothing spins.
func TestFailingFlushEndsWrites(t *testing.T) {
	inj := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpCreate && strings.HasSuffix(op.Path, ".sst") {
			return fmt.Errorf("create %s: %w", op.Path, syscall.ENOSPC)
		}
		return nil
	})}
	c, err := openPebbleFS("cat", false, errorfs.Wrap(vfs.NewMem(), inj))
	if err != nil {
		t.Fatal(err)
	}
	inj.On()
	val := make([]byte, 64<<10)
	within(t, "writes while flushes fail", func() {
		for i := 0; i < 1000 && err == nil; i++ { // 64 MiB: many memtables
			err = c.Set([]byte(fmt.Sprint("k", i)), val, pebble.NoSync)
		}
	})
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), ".sst") {
		t.Fatalf("writes while flushes fail: %v", err)
	}
	within(t, "Close", func() { c.Close() })
}
