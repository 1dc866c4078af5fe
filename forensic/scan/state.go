package scan

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// DerivedName is the name of a point's scan state among its derived data
// in the catalog (operational, like a test restore: not in the store).
const DerivedName = "scan"

// State is the outcome of a point's latest scan.
type State struct {
	Scanned time.Time `json:"scanned"`
	Before  string    `json:"before"`
	Signals []string  `json:"signals,omitempty"` // the kinds tripped
	Errors  int       `json:"errors,omitempty"`
}

// String is the state as the points listing shows it.
func (s *State) String() string {
	switch {
	case s == nil:
		return "-"
	case len(s.Signals) > 0:
		return "ALERT: " + strings.Join(s.Signals, ",")
	case s.Errors > 0:
		return "incomplete"
	}
	return "clean"
}

func record(repo *catalog.Repo, m *catalog.Manifest, p *Point) error {
	s := State{Scanned: time.Now().UTC().Truncate(time.Second), Before: p.Before, Errors: len(p.Errors)}
	for _, sig := range p.Signals {
		s.Signals = append(s.Signals, sig.Kind)
	}
	b, err := json.Marshal(&s)
	if err != nil {
		return err
	}
	if err := repo.PutDerived(m.ID(), DerivedName, b); err != nil {
		return fmt.Errorf("record the scan of %s: %w", m.Name(), err)
	}
	return nil
}

// LoadState returns the state of point id's latest scan, nil if never
// scanned.
func LoadState(repo *catalog.Repo, id catalog.PointID) (*State, error) {
	b, ok, err := repo.Derived(id, DerivedName)
	if err != nil || !ok {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("scan state of %s: %w", id.Name(), err)
	}
	return &s, nil
}
