package testrestore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// DerivedName is the name of a point's test restore result among its
// derived data in the catalog.
const DerivedName = "testrestore"

// resultVersion is the version of the recorded JSON.
const resultVersion = 1

// Result is what one test restore of a point found.
type Result struct {
	Version  int           `json:"version"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	// Sample and Take: the data of Take files in Sample was read (1 and
	// 1: every file's).
	Sample int  `json:"sample"`
	Take   int  `json:"take"`
	OK     bool `json:"ok"`

	Disks   int   `json:"disks"`
	Volumes int   `json:"volumes"` // guest filesystems walked
	Dirs    int64 `json:"dirs"`
	Files   int64 `json:"files"` // regular files walked (each path of a hard link)
	// FilesRead counts the files whose data was read (a hard-linked
	// inode once), Bytes the bytes of data read.
	FilesRead int64 `json:"files_read"`
	Bytes     int64 `json:"bytes"`

	// IndexEntries is how many entries of the file index were compared;
	// IndexBuilt says the point had no stored index and one was built
	// from the store for this test (a weaker check: the same bytes twice).
	IndexEntries int64 `json:"index_entries"`
	IndexBuilt   bool  `json:"index_built,omitempty"`

	// Problems are the first failures found (MaxProblems), in the order
	// found; MoreProblems counts the rest. Warnings are the guest's own
	// damage, not failures.
	Problems     []Problem `json:"problems,omitempty"`
	MoreProblems int       `json:"more_problems,omitempty"`
	Warnings     []Problem `json:"warnings,omitempty"`
}

// Problem is one failure (or warning) and where it is.
type Problem struct {
	// Path is the guest path as in the mount ("disk0/p2/etc/hosts"), the
	// volume ("disk0/p2") or the disk ("disk0"); "" for the point.
	Path string `json:"path"`
	What string `json:"what"` // "read", "list", "open", "index", ...
	Err  string `json:"error"`
}

func (p Problem) String() string {
	if p.Path == "" {
		return fmt.Sprintf("%s: %s", p.What, p.Err)
	}
	return fmt.Sprintf("%q: %s: %s", p.Path, p.What, p.Err) // the guest chose the names
}

// Reason is the first problem, "" when the test passed.
func (r *Result) Reason() string {
	if len(r.Problems) == 0 {
		return ""
	}
	return r.Problems[0].String()
}

// Save records res as the test restore result of point id.
func Save(repo *catalog.Repo, id catalog.PointID, res *Result) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return repo.PutDerived(id, DerivedName, b)
}

// Load returns the recorded test restore result of point id, nil when
// the point was never tested (or its result was dropped by catalog
// rebuild).
func Load(repo *catalog.Repo, id catalog.PointID) (*Result, error) {
	b, ok, err := repo.Derived(id, DerivedName)
	if err != nil || !ok {
		return nil, err
	}
	res, err := decodeResult(b)
	if err != nil {
		return nil, fmt.Errorf("test restore result of %s (%d bytes): %w", id, len(b), err)
	}
	return res, nil
}

// decodeResult decodes a recorded result and refuses what Run never
// writes.
func decodeResult(b []byte) (*Result, error) {
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, err
	}
	if res.Version != resultVersion {
		return nil, fmt.Errorf("version %d, want %d", res.Version, resultVersion)
	}
	if res.Sample < 1 || res.Take < 1 || res.Take > res.Sample {
		return nil, fmt.Errorf("sample %d/%d out of range", res.Take, res.Sample)
	}
	for _, n := range []int64{int64(res.Duration), int64(res.Disks), int64(res.Volumes), res.Dirs, res.Files,
		res.FilesRead, res.Bytes, res.IndexEntries, int64(res.MoreProblems)} {
		if n < 0 {
			return nil, fmt.Errorf("negative count %d", n)
		}
	}
	if len(res.Problems) == 0 {
		res.Problems = nil // as Run leaves them
	}
	if len(res.Warnings) == 0 {
		res.Warnings = nil
	}
	if res.OK != (len(res.Problems) == 0 && res.MoreProblems == 0) {
		return nil, fmt.Errorf("ok %v with %d problems", res.OK, len(res.Problems)+res.MoreProblems)
	}
	return &res, nil
}
