package service

import (
	"log/slog"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
)

// TestLateStateKept: the notified breaches are in the catalog after each
// change; a service made anew on the repository does not notify an
// ongoing breach again, and does notify one that ended and came back.
func TestLateStateKept(t *testing.T) {
	repo := catalog.TestRepo(t)
	wh := newWebhook(t)
	cfg := &Config{Notify: Notify{Webhook: wh.srv.URL}, Limits: Limits{ParallelVMs: 1}}
	late := func(vms ...string) []VMStatus {
		var st []VMStatus
		for _, vm := range vms {
			st = append(st, VMStatus{Job: "j", VM: vm, Late: true})
		}
		return append(st, VMStatus{Job: "j", VM: "fine"})
	}
	o := Options{Log: slog.New(slog.DiscardHandler)}
	s := New(repo, cfg, o)
	s.breaches(late("a", "b"))
	if b, _ := repo.State(lateState); string(b) != `["j/a","j/b"]` {
		t.Fatalf("state after a and b went late: %s", b)
	}
	s = New(repo, cfg, o) // a restart
	s.breaches(late("a")) // b's breach ended while it was down
	if b, _ := repo.State(lateState); string(b) != `["j/a"]` {
		t.Fatalf("state after b's breach ended: %s", b)
	}
	s = New(repo, cfg, o)
	s.breaches(late("a", "b"))
	s.breaches(late())
	if b, _ := repo.State(lateState); b != nil {
		t.Fatalf("state with no breach: %s", b)
	}
	var got []string
	for _, e := range wh.got("rpo_late") {
		got = append(got, e.VM)
	}
	if len(got) != 3 || got[0]+got[1]+got[2] != "abb" {
		t.Fatalf("rpo_late events for %v, want a, b, then b again", got)
	}
}
