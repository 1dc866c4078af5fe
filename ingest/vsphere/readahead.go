package vsphere

import (
	"context"
	"slices"
	"sort"
	"sync"

	"github.com/vmarchive/vmarchive/ingest/areas"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/ingest/vsphere/layout"
)

// The pipeline asks a disk for one chunk (1 MiB by default) at a time. As
// one HTTP range request each, the per-request costs (routing, the
// datastore lookup and ticket check on the server, response headers) cost
// more than the bytes. A readahead instead fetches the areas the pipeline
// is going to read in windows of up to windowSize bytes, a bounded number
// at a time, and hands their bytes out as they are asked for.
//
// It follows a plan: exactly the file-backed bytes the pipeline will read
// (every chunk touching the allocated areas in a full read, the changed
// areas themselves in an incremental one), so it never fetches a byte the
// pipeline would not have asked for; in an incremental run only the
// changed areas cross the wire. Reads outside the plan (a chunk re-read
// because its old copy is damaged) or of windows already given up are
// served by a range request of their own.
//
// A worker that falls behind (descheduled on a busy machine) still holds
// a chunk in a window the others have moved past. When the windows take
// all they may, such a window is given up, but the bytes no one has read
// yet are kept as a remnant, up to remnantChunks chunks per stream: the
// late worker finds them and no byte crosses the wire twice.

// windowSize is the most one range request of a readahead covers.
const windowSize = 16 << 20

// window is one range request's worth of the plan, within one file.
type window struct {
	off, end int64 // disk offsets [off, end)
	file     string
	fileOff  int64 // offset in file of off
	buf      []byte
	done     chan struct{} // closed once buf is filled or err set
	err      error

	used    int64          // bytes handed out; guarded by readahead.mu
	given   []image.Extent // ranges handed out, merged; guarded by readahead.mu
	refs    int            // readers copying from buf; guarded by readahead.mu
	dropped bool           // out of the list; buf goes back when refs is 0; guarded by mu
	remnant bool           // unread bytes of a given-up window; fixed
}

func (w *window) ready() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// readahead serves a flatDisk's file-backed reads from windows fetched
// ahead. Safe for concurrent use.
type readahead struct {
	ctx    context.Context
	cancel context.CancelFunc
	files  *datastoreFiles
	segs   []layout.Segment
	plan   []image.Extent // sorted, merged, within file segments
	size   int64          // most bytes in a window
	budget int64          // most bytes in windows not yet read
	remMax int64          // most bytes in remnants
	sem    chan struct{}  // one token per range request in flight
	onRead func(n int64)  // counts bytes fetched
	wg     sync.WaitGroup

	mu    sync.Mutex
	k     int       // plan index of the cursor; guarded by mu
	pos   int64     // cursor: next disk offset to put in a window; guarded by mu
	wins  []*window // in disk order; guarded by mu
	bytes int64     // bytes in wins but remnants; guarded by mu
	rem   int64     // bytes in remnants; guarded by mu
	free  [][]byte  // spare full-size window buffers; guarded by mu
}

// maxWindows bounds the windows of a readahead, whatever their size:
// a sparse plan (scattered changed blocks) makes many small ones.
const maxWindows = 1024

// remnantChunks is how many chunks per stream the remnants of given-up
// windows may hold.
const remnantChunks = 2

// newReadahead reads plan ahead in windows of up to size bytes, streams
// range requests at a time, holding up to (streams+1)*size bytes, and at
// least (streams+1) chunks of cs bytes: so much that the pipeline's
// workers (as many as streams), each on a chunk of its own, always find
// what they ask for in a window. Direct reads share the streams.
func newReadahead(ctx context.Context, files *datastoreFiles, segs []layout.Segment, plan []image.Extent, streams int, size, cs int64, onRead func(int64)) *readahead {
	ctx, cancel := context.WithCancel(ctx)
	streams = max(streams, 1)
	return &readahead{
		ctx: ctx, cancel: cancel, files: files, segs: segs,
		plan: intersect(plan, layout.DataExtents(segs)), size: size, budget: int64(streams+1) * max(size, cs),
		sem: make(chan struct{}, streams), onRead: onRead, remMax: int64(remnantChunks*streams) * cs,
	}
}

// full reports whether the windows take all they may. Called with mu held.
func (r *readahead) full() bool {
	return len(r.wins) >= maxWindows || r.bytes >= r.budget
}

// close stops fetches in flight and waits for them.
func (r *readahead) close() {
	r.cancel()
	r.wg.Wait()
}

// read fills buf from disk offset at, inside file segment s.
func (r *readahead) read(s layout.Segment, buf []byte, at int64) error {
	for len(buf) > 0 {
		w, direct := r.acquire(at, int64(len(buf)))
		if w == nil {
			n := direct
			if err := r.readDirect(s, buf[:n], at); err != nil {
				return err
			}
			buf, at = buf[n:], at+n
			continue
		}
		select {
		case <-w.done:
		case <-r.ctx.Done():
			r.release(w, at, 0)
			return r.ctx.Err()
		}
		if w.err != nil {
			r.release(w, at, 0)
			return w.err
		}
		n := copy(buf, w.buf[at-w.off:])
		r.release(w, at, int64(n))
		buf, at = buf[n:], at+int64(n)
	}
	return nil
}

// readDirect reads what no window holds with a range request of its own,
// taking a stream like a window fetch: no more than streams requests per
// disk are ever in flight.
func (r *readahead) readDirect(s layout.Segment, buf []byte, at int64) error {
	select {
	case r.sem <- struct{}{}:
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
	defer func() { <-r.sem }()
	if err := r.files.readAt(r.ctx, s.File, buf, s.FileOff+at-s.Off); err != nil {
		return err
	}
	r.onRead(int64(len(buf)))
	return nil
}

// acquire returns the window holding offset at, with a reference taken,
// or nil and how many of the n bytes from at to read directly.
func (r *readahead) acquire(at, n int64) (*window, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w := r.find(at); w != nil {
		w.refs++
		return w, 0
	}
	if at >= r.pos {
		// Ahead of every window: the plan up to here will not be asked
		// for (the budget covers every chunk the workers hold). If the
		// windows take all they may, those wholly before at are stale
		// (given up by the pipeline); free them.
		r.skipTo(at)
		if r.full() {
			for _, w := range append([]*window(nil), r.wins...) {
				if w.end <= at && w.ready() && !w.remnant {
					r.giveUp(w)
				}
			}
		}
		r.fill()
		if w := r.find(at); w != nil {
			w.refs++
			return w, 0
		}
	}
	if i := r.after(at); i < len(r.wins) {
		return nil, min(n, r.wins[i].off-at)
	}
	return nil, n
}

// after returns the index of the first window that ends after at. Called
// with mu held; wins are in disk order and do not overlap.
func (r *readahead) after(at int64) int {
	return sort.Search(len(r.wins), func(i int) bool { return r.wins[i].end > at })
}

// find returns the window holding at, or nil. Called with mu held.
func (r *readahead) find(at int64) *window {
	if i := r.after(at); i < len(r.wins) && r.wins[i].off <= at {
		return r.wins[i]
	}
	return nil
}

// release returns a reference to w after n bytes from at were copied out
// of it.
func (r *readahead) release(w *window, at, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w.refs--
	w.used += n
	if n > 0 {
		w.given = areas.Merge(append(w.given, image.Extent{Off: at, Len: n}))
	}
	switch {
	case w.dropped:
		if w.refs == 0 {
			r.recycle(w.buf)
		}
	case w.used >= w.end-w.off:
		r.drop(w)
		r.fill()
	}
}

// drop takes w out of the list. Called with mu held, w done.
func (r *readahead) drop(w *window) {
	for i, x := range r.wins {
		if x == w {
			r.wins = append(r.wins[:i], r.wins[i+1:]...)
			break
		}
	}
	w.dropped = true
	if w.remnant {
		r.rem -= w.end - w.off
	} else {
		r.bytes -= w.end - w.off
	}
	if w.refs == 0 {
		r.recycle(w.buf)
	}
}

// giveUp drops w, a window behind every reader, keeping the bytes not
// yet handed out as remnants while they fit remMax (oldest remnants go
// first). Called with mu held, w done.
func (r *readahead) giveUp(w *window) {
	var keep []*window
	if w.err == nil {
		for _, h := range holes(w.off, w.end, w.given) {
			keep = append(keep, &window{off: h.Off, end: h.Off + h.Len, file: w.file, fileOff: w.fileOff + h.Off - w.off,
				buf: append([]byte(nil), w.buf[h.Off-w.off:h.Off+h.Len-w.off]...), done: w.done, remnant: true})
		}
	}
	i := slices.Index(r.wins, w)
	r.drop(w)
	var n int64
	for _, k := range keep {
		n += k.end - k.off
	}
	if n == 0 || n > r.remMax {
		return
	}
	r.wins = slices.Insert(r.wins, i, keep...)
	r.rem += n
	for r.rem > r.remMax {
		for _, x := range r.wins {
			if x.remnant {
				r.drop(x)
				break
			}
		}
	}
}

// holes returns the parts of [off, end) outside the sorted, merged given.
func holes(off, end int64, given []image.Extent) []image.Extent {
	var out []image.Extent
	for _, g := range given {
		if g.Off > off {
			out = append(out, image.Extent{Off: off, Len: min(g.Off, end) - off})
		}
		off = max(off, g.Off+g.Len)
	}
	if off < end {
		out = append(out, image.Extent{Off: off, Len: end - off})
	}
	return out
}

// recycle keeps a full-size buffer for the next window. Called with mu
// held.
func (r *readahead) recycle(b []byte) {
	if int64(cap(b)) == r.size && len(r.free) < cap(r.sem)+1 {
		r.free = append(r.free, b[:0])
	}
}

// skipTo moves the cursor forward to at. Called with mu held.
func (r *readahead) skipTo(at int64) {
	for r.k < len(r.plan) && r.plan[r.k].Off+r.plan[r.k].Len <= at {
		r.k++
	}
	r.pos = max(r.pos, at)
}

// fill schedules windows until they take all they may; each is fetched
// as soon as a stream is free, in order. Called with mu held.
func (r *readahead) fill() {
	for !r.full() && r.ctx.Err() == nil {
		w := r.next()
		if w == nil {
			return
		}
		n := w.end - w.off
		if k := len(r.free); n == r.size && k > 0 {
			w.buf = r.free[k-1][:n]
			r.free = r.free[:k-1]
		} else {
			w.buf = make([]byte, n)
		}
		r.wins = append(r.wins, w)
		r.bytes += n
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer close(w.done)
			select {
			case r.sem <- struct{}{}:
			case <-r.ctx.Done():
				w.err = r.ctx.Err()
				return
			}
			defer func() { <-r.sem }()
			w.err = r.files.readAt(r.ctx, w.file, w.buf, w.fileOff)
			if w.err == nil {
				r.onRead(int64(len(w.buf)))
			}
		}()
	}
}

// next cuts the next window from the plan at the cursor: at most size
// bytes, ending at a multiple of size, within one file segment. Called
// with mu held.
func (r *readahead) next() *window {
	for r.k < len(r.plan) {
		e := r.plan[r.k]
		r.pos = max(r.pos, e.Off)
		if r.pos >= e.Off+e.Len {
			r.k++
			continue
		}
		i := sort.Search(len(r.segs), func(i int) bool { return r.segs[i].Off+r.segs[i].Len > r.pos })
		if i == len(r.segs) {
			r.k = len(r.plan)
			return nil
		}
		s := r.segs[i]
		if s.File == "" { // the plan is within file segments; be safe anyway
			r.pos = s.Off + s.Len
			continue
		}
		end := min(e.Off+e.Len, s.Off+s.Len, (r.pos/r.size+1)*r.size)
		w := &window{off: r.pos, end: end, file: s.File, fileOff: s.FileOff + r.pos - s.Off, done: make(chan struct{})}
		r.pos = end
		return w
	}
	return nil
}

// intersect returns the parts of sorted, merged a that are also in sorted,
// merged b.
func intersect(a, b []image.Extent) []image.Extent {
	var out []image.Extent
	for i, j := 0, 0; i < len(a) && j < len(b); {
		lo := max(a[i].Off, b[j].Off)
		hi := min(a[i].Off+a[i].Len, b[j].Off+b[j].Len)
		if lo < hi {
			out = append(out, image.Extent{Off: lo, Len: hi - lo})
		}
		if a[i].Off+a[i].Len < b[j].Off+b[j].Len {
			i++
		} else {
			j++
		}
	}
	return out
}
