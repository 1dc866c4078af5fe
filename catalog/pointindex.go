package catalog

import (
	"sync"
	"sync/atomic"
)

// maxIndexed bounds the point times pointIndex keeps (8 bytes each; a VM
// without points counts as one).
const maxIndexed = 1 << 20

// pointIndex caches what the point keys say: the VMs and, per VM, the
// times of its points. A mount asks for them on every lookup, listing and
// stat of a VM's directory; the keys sit among the manifests they name, so
// each scan would read a VM's manifests' blocks. Every catalog write bumps
// gen (catalogDB.write), which empties the cache: only the process holding
// the repository writes its catalog, so a cached answer is never stale.
type pointIndex struct {
	gen atomic.Uint64

	mu    sync.Mutex
	at    uint64             // gen the cached answers were read at; guarded by mu
	vms   []string           // nil: not cached; guarded by mu
	times map[string][]int64 // unix seconds, ascending; guarded by mu
	n     int                // times cached in all; guarded by mu
}

// changed records a catalog write.
func (x *pointIndex) changed() { x.gen.Add(1) }

// now returns the generation to read at; answers read at it are stored
// with put*, which drop them if a write came in between.
func (x *pointIndex) now() uint64 { return x.gen.Load() }

// sync empties the cache if the catalog changed since it was filled.
// Called with mu held.
func (x *pointIndex) sync() {
	if g := x.gen.Load(); g != x.at || x.times == nil {
		x.at, x.vms, x.times, x.n = g, nil, map[string][]int64{}, 0
	}
}

func (x *pointIndex) getVMs() ([]string, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.sync()
	return x.vms, x.vms != nil
}

func (x *pointIndex) putVMs(gen uint64, vms []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.sync()
	if gen == x.at && vms != nil {
		x.vms = vms
	}
}

func (x *pointIndex) getTimes(vm string) ([]int64, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.sync()
	t, ok := x.times[vm]
	return t, ok
}

func (x *pointIndex) putTimes(gen uint64, vm string, t []int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.sync()
	if gen != x.at || len(t) > maxIndexed {
		return
	}
	cost := max(1, len(t)) // a VM without points is cached too
	if x.n+cost > maxIndexed {
		x.times, x.n = map[string][]int64{}, 0 // start over rather than grow
	}
	x.times[vm] = t
	x.n += cost
}
