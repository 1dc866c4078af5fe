package diff

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"sort"
	"sync"
	"syscall"

	"github.com/vmarchive/vmarchive/guestfs"
)

// hashJob is one file version to hash, or two versions of one file read
// side by side, so that the chunks they share come from the store once
// (the second read hits the chunk cache).
type hashJob struct {
	a, b *node // either may be nil
	// p, with Options.NoHash, is the pair to compare instead of hashing.
	p *pair
}

// hashAll computes the SHA-256 of every regular file version the report
// shows, reading each once, a few at a time. A version that cannot be read
// gets an error in hashErrs instead; only a cancelled ctx stops hashAll.
func (v *volumeDiff) hashAll() error {
	jobs := v.hashJobs()
	v.hashes = make(map[*node]string, 2*len(jobs))
	v.hashErrs = map[*node]error{}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	next := make(chan hashJob)
	for range min(4, len(jobs)) {
		wg.Go(func() {
			bufA, bufB := make([]byte, 1<<20), make([]byte, 1<<20)
			for j := range next {
				if j.p != nil {
					differs, err := v.compareContent(j, bufA, bufB)
					mu.Lock()
					if err != nil {
						v.hashErrs[j.a], v.hashErrs[j.b] = err, err
					} else {
						j.p.same, j.p.differs = !differs, differs
					}
					mu.Unlock()
					continue
				}
				ha, hb, errA, errB := v.hashBoth(j, bufA, bufB)
				mu.Lock()
				for _, r := range []struct {
					n   *node
					sum string
					err error
				}{{j.a, ha, errA}, {j.b, hb, errB}} {
					switch {
					case r.n == nil:
					case r.err != nil:
						v.hashErrs[r.n] = r.err
					default:
						v.hashes[r.n] = r.sum
					}
				}
				mu.Unlock()
			}
		})
	}
	for _, j := range jobs {
		if v.ctx.Err() != nil {
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
	return v.ctx.Err()
}

// hashBoth hashes a job's versions side by side; when that fails, each
// alone, so that a readable version still gets its hash.
func (v *volumeDiff) hashBoth(j hashJob, bufA, bufB []byte) (ha, hb string, errA, errB error) {
	ha, hb, err := v.hashPair(j, bufA, bufB)
	if err == nil || v.ctx.Err() != nil || j.a == nil || j.b == nil {
		return ha, hb, err, err
	}
	ha, _, errA = v.hashPair(hashJob{a: j.a}, bufA, bufB)
	_, hb, errB = v.hashPair(hashJob{b: j.b}, bufA, bufB)
	return ha, hb, errA, errB
}

func (j hashJob) size() int64 {
	var n int64
	if j.a != nil {
		n += j.a.attr.Size
	}
	if j.b != nil {
		n += j.b.attr.Size
	}
	return n
}

// hashPair hashes j.a in point A and j.b in point B, window by window.
func (v *volumeDiff) hashPair(j hashJob, bufA, bufB []byte) (ha, hb string, err error) {
	type stream struct {
		point string
		n     *node
		f     guestfs.File
		h     hash.Hash
		buf   []byte
		size  int64
	}
	var ss []*stream
	for _, x := range []struct {
		s   side
		n   *node
		buf []byte
	}{{v.a, j.a, bufA}, {v.b, j.b, bufB}} {
		if x.n == nil {
			ss = append(ss, nil)
			continue
		}
		f, err := x.s.fs.Open(x.n.attr.Ino)
		if err != nil {
			return "", "", fmt.Errorf("point %s: open %s: %w", x.s.point, x.n.path, err)
		}
		ss = append(ss, &stream{point: x.s.point, n: x.n, f: f, h: sha256.New(), buf: x.buf, size: f.Size()})
	}
	var end int64
	for _, s := range ss {
		if s != nil {
			end = max(end, s.size)
		}
	}
	for off := int64(0); off < end; off += int64(len(bufA)) {
		if err := v.ctx.Err(); err != nil {
			return "", "", err
		}
		for _, s := range ss {
			if s == nil || off >= s.size {
				continue
			}
			b := s.buf[:min(int64(len(s.buf)), s.size-off)]
			k, err := s.f.ReadAt(b, off)
			if k < len(b) {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return "", "", fmt.Errorf("point %s: read %s at %d: %w", s.point, s.n.path, off, err)
			}
			s.h.Write(b)
		}
	}
	if ss[0] != nil {
		ha = hex.EncodeToString(ss[0].h.Sum(nil))
	}
	if ss[1] != nil {
		hb = hex.EncodeToString(ss[1].h.Sum(nil))
	}
	return ha, hb, nil
}

// compareContent reads j's two versions side by side up to the first
// difference.
func (v *volumeDiff) compareContent(j hashJob, bufA, bufB []byte) (differs bool, err error) {
	fa, err := v.a.fs.Open(j.a.attr.Ino)
	if err != nil {
		return false, fmt.Errorf("point %s: open %s: %w", v.a.point, j.a.path, err)
	}
	fb, err := v.b.fs.Open(j.b.attr.Ino)
	if err != nil {
		return false, fmt.Errorf("point %s: open %s: %w", v.b.point, j.b.path, err)
	}
	size := fa.Size()
	if fb.Size() != size {
		return true, nil
	}
	for off := int64(0); off < size; off += int64(len(bufA)) {
		if err := v.ctx.Err(); err != nil {
			return false, err
		}
		n := min(int64(len(bufA)), size-off)
		for _, x := range []struct {
			s   side
			n   *node
			f   guestfs.File
			buf []byte
		}{{v.a, j.a, fa, bufA[:n]}, {v.b, j.b, fb, bufB[:n]}} {
			if k, err := x.f.ReadAt(x.buf, off); k < len(x.buf) {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return false, fmt.Errorf("point %s: read %s at %d: %w", x.s.point, x.n.path, off, err)
			}
		}
		if !bytes.Equal(bufA[:n], bufB[:n]) {
			return true, nil
		}
	}
	return false, nil
}

// hashJobs lists the file versions the report shows, biggest first, so
// that one huge file does not start last.
func (v *volumeDiff) hashJobs() []hashJob {
	var jobs []hashJob
	for _, p := range v.pairs {
		typeChanged := p.a.attr.Mode&syscall.S_IFMT != p.b.attr.Mode&syscall.S_IFMT
		switch {
		case typeChanged && v.noHash:
		case typeChanged:
			j := hashJob{}
			if isReg(p.a) {
				j.a = p.a
			}
			if isReg(p.b) {
				j.b = p.b
			}
			if j.a != nil || j.b != nil {
				jobs = append(jobs, j)
			}
		case !isReg(p.a):
		case p.same && len(p.fields) == 0 && p.from == "":
			// unchanged: not shown, not read
		case v.noHash && p.same:
		case v.noHash:
			jobs = append(jobs, hashJob{a: p.a, b: p.b, p: p})
		case p.same:
			jobs = append(jobs, hashJob{b: p.b}) // one read serves both
		default:
			jobs = append(jobs, hashJob{a: p.a, b: p.b})
		}
	}
	if v.noHash {
		return sortJobs(jobs) // files in one point only: nothing to compare
	}
	for _, n := range v.onlyA {
		if isReg(n) {
			jobs = append(jobs, hashJob{a: n})
		}
	}
	for _, n := range v.onlyB {
		if isReg(n) {
			jobs = append(jobs, hashJob{b: n})
		}
	}
	return sortJobs(jobs)
}

// sortJobs puts the largest first, so the last to finish are small.
func sortJobs(jobs []hashJob) []hashJob {
	sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].size() > jobs[j].size() })
	return jobs
}
