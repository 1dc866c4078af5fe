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
