package service

import (
	"encoding/json"
	"maps"
	"slices"
)

// lateState names the catalog state (catalog.Repo.State) holding the
// job/vm names whose RPO breach was notified, as a sorted JSON list.
const lateState = "rpo-late"

// loadLate reads the breaches notified before a restart; a state that
// cannot be read is logged and taken as none (breaches notified again).
func (s *Service) loadLate() map[string]bool {
	late := map[string]bool{}
	b, err := s.repo.State(lateState)
	if err == nil && b != nil {
		var names []string
		if err = json.Unmarshal(b, &names); err == nil {
			for _, n := range names {
				late[n] = true
			}
		}
	}
	if err != nil {
		s.log.Error("RPO breaches notified before: not read, ongoing ones are notified again", "err", err)
	}
	return late
}

// saveLate keeps the notified breaches; an error is logged (the breach
// may then be notified again after a restart).
func (s *Service) saveLate(late map[string]bool) {
	var val []byte
	if len(late) > 0 {
		names := slices.Sorted(maps.Keys(late))
		val, _ = json.Marshal(names)
	}
	if err := s.repo.PutState(lateState, val); err != nil {
		s.log.Error("RPO breaches notified: not kept", "err", err)
	}
}
