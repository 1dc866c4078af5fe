package catalog

import (
	"fmt"
	"testing"
	"time"
)

// TestRunsKeepLastN: each job keeps its newest records up to keep, a job
// whose name extends another's ("a", "ab") is listed apart, a record
// rewritten with the same start replaces the old one.
func TestRunsKeepLastN(t *testing.T) {
	r := TestRepo(t)
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 123, time.UTC)
	for i := range 5 {
		for _, job := range []string{"a", "ab"} {
			if err := r.PutRun(job, t0.Add(time.Duration(i)*time.Second), []byte(fmt.Sprintf("%s%d", job, i)), 3); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := r.PutRun("a", t0.Add(4*time.Second), []byte("a4-final"), 3); err != nil {
		t.Fatal(err)
	}
	got, err := r.Runs("a")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a2", "a3", "a4-final"}
	if len(got) != len(want) {
		t.Fatalf("job a: %d records, want %d", len(got), len(want))
	}
	for i, rec := range got {
		if rec.Job != "a" || string(rec.Value) != want[i] || !rec.Start.Equal(t0.Add(time.Duration(i+2)*time.Second)) {
			t.Fatalf("record %d: %s %s %q, want %q", i, rec.Job, rec.Start, rec.Value, want[i])
		}
	}
	all, err := r.Runs("")
	if err != nil || len(all) != 6 || all[3].Job != "ab" {
		t.Fatalf("every job: %d records, %v", len(all), err)
	}
	if err := r.PutRun("bad/name", t0, nil, 1); err == nil {
		t.Fatal("a job name with '/' accepted")
	}
}

// TestServiceState: named state is apart from the run records and is
// deleted by nil.
func TestServiceState(t *testing.T) {
	r := TestRepo(t)
	if v, err := r.State("rpo-late"); v != nil || err != nil {
		t.Fatalf("no state yet: %q, %v", v, err)
	}
	if err := r.PutState("rpo-late", []byte(`{"a/b":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := r.PutRun("rpo-late", time.Now(), []byte("run"), 1); err != nil {
		t.Fatal(err)
	}
	if v, err := r.State("rpo-late"); string(v) != `{"a/b":1}` || err != nil {
		t.Fatalf("state: %q, %v", v, err)
	}
	if runs, _ := r.Runs(""); len(runs) != 1 {
		t.Fatalf("state listed among runs: %d records", len(runs))
	}
	if err := r.PutState("rpo-late", nil); err != nil {
		t.Fatal(err)
	}
	if v, err := r.State("rpo-late"); v != nil || err != nil {
		t.Fatalf("deleted state: %q, %v", v, err)
	}
}
