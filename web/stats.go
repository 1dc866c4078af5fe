package web

import (
	"fmt"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// The dashboard's repository figures come from catalog.Repo.Stats (what
// `vmarchive stats` prints) through a catalog.StatsCache: computed in the
// background once per set of points, the dashboard shows the last result.

// repoFigures is the dashboard's line about the repository.
type repoFigures struct {
	Points                        int
	Logical, Data, Unique, Stored string
	Dedup, Compression, Overall   string
	AsOf, Error                   string
	Updating                      bool
}

func figures(st *catalog.Stats, at time.Time, fresh bool, err error) *repoFigures {
	f := &repoFigures{Updating: !fresh}
	if err != nil {
		f.Error = err.Error()
	}
	if st == nil {
		return f
	}
	f.Points = st.Points
	f.Logical, f.Data, f.Unique, f.Stored = humanSize(st.Logical), humanSize(st.Data), humanSize(st.Unique), humanSize(st.Stored)
	f.Dedup, f.Compression = ratio(st.DedupRatio), ratio(st.CompressionRatio)
	if st.Stored > 0 {
		f.Overall = ratio(float64(st.Logical) / float64(st.Stored))
	}
	f.AsOf = showTime(at)
	return f
}

func ratio(r float64) string { return fmt.Sprintf("%.2f×", r) }
