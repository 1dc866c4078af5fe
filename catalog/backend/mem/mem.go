// Package mem is an in-memory backend for tests.
package mem

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/vmarchive/vmarchive/catalog/backend"
)

// Backend keeps objects in a map.
type Backend struct {
	mu      sync.Mutex
	objects map[string][]byte // guarded by mu
}

var _ backend.Backend = (*Backend)(nil)

// New returns an empty backend.
func New() *Backend { return &Backend{objects: map[string][]byte{}} }

// Put implements backend.Backend.
func (b *Backend) Put(ctx context.Context, name string, data []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.objects[name] = append([]byte(nil), data...)
	return nil
}

// Get implements backend.Backend.
func (b *Backend) Get(ctx context.Context, name string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.objects[name]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", name, backend.ErrNotFound)
	}
	return append([]byte(nil), d...), nil
}

// List implements backend.Backend.
func (b *Backend) List(ctx context.Context, prefix string, fn func(string, int64) error) error {
	b.mu.Lock()
	var names []string
	sizes := map[string]int64{}
	for n, d := range b.objects {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
			sizes[n] = int64(len(d))
		}
	}
	b.mu.Unlock()
	sort.Strings(names)
	for _, n := range names {
		if err := fn(n, sizes[n]); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements backend.Backend.
func (b *Backend) Delete(ctx context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.objects[name]; !ok {
		return fmt.Errorf("delete %s: %w", name, backend.ErrNotFound)
	}
	delete(b.objects, name)
	return nil
}
