package fat

import "fmt"

// run is a stretch of consecutive clusters of one chain.
type run struct {
	first uint32 // first cluster
	count uint32
}

// clusterSet is a sparse bitmap of visited clusters, for loop detection.
// Its size is bounded by the number of clusters walked.
type clusterSet map[uint32]*[64]uint64 // 4096 clusters per 512-byte page

func (s clusterSet) addNew(c uint32) bool {
	page := s[c>>12]
	if page == nil {
		page = new([64]uint64)
		s[c>>12] = page
	}
	w, bit := (c>>6)&63, uint64(1)<<(c&63)
	if page[w]&bit != 0 {
		return false
	}
	page[w] |= bit
	return true
}

// chain follows the cluster chain from start and returns it as runs,
// stopping after limit clusters or at the end-of-chain mark. It reports
// whether the end mark was reached. A free, reserved, bad or out-of-range
// entry, or a cluster seen twice, is corruption; what names the owner.
func (t *fatTable) chain(start uint32, limit int64, what string) (runs []run, ended bool, err error) {
	if !t.l.validCluster(start) {
		return nil, false, fmt.Errorf("%s: first cluster %d out of range 2..%d: %w", what, start, t.l.clusters+1, ErrCorrupt)
	}
	seen := clusterSet{}
	var cur blockRef
	eoc, bad := t.eocMin(), t.badMark()
	c := start
	for n := int64(0); ; n++ {
		if n >= limit {
			return runs, false, nil
		}
		if n >= int64(t.l.clusters) || !seen.addNew(c) {
			return nil, false, fmt.Errorf("%s: cluster chain from %d loops back to cluster %d after %d clusters: %w", what, start, c, n, ErrCorrupt)
		}
		if k := len(runs) - 1; k >= 0 && runs[k].first+runs[k].count == c {
			runs[k].count++
		} else {
			runs = append(runs, run{first: c, count: 1})
		}
		next, err := t.entryVia(c, &cur)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", what, err)
		}
		switch {
		case next >= eoc:
			return runs, true, nil
		case next == bad:
			return nil, false, fmt.Errorf("%s: cluster %d is in the chain but marked bad (0x%X): %w", what, c, next, ErrCorrupt)
		case next == 0:
			return nil, false, fmt.Errorf("%s: cluster %d is in the chain but its FAT entry says free: %w", what, c, ErrCorrupt)
		case !t.l.validCluster(next):
			return nil, false, fmt.Errorf("%s: cluster %d points to cluster %d, out of range 2..%d: %w", what, c, next, t.l.clusters+1, ErrCorrupt)
		}
		c = next
	}
}
