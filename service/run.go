package service

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// Run is the record of one run of a job, kept in the catalog and served
// by the API.
type Run struct {
	Job       string    `json:"job"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end,omitzero"`
	Trigger   string    `json:"trigger"` // schedule, missed, manual
	Result    string    `json:"result"`  // running, ok, failed, cancelled
	Error     string    `json:"error,omitempty"`
	VMs       []VMRun   `json:"vms"`
	Forgotten int       `json:"forgotten"` // points removed by the retention
	Copied    int       `json:"copied"`    // points sent to copy-to
	// GC is what a run of the gc: schedule (job GCJob) did.
	GC *catalog.GCResult `json:"gc,omitempty"`
}

// VMRun is one VM's part of a run.
type VMRun struct {
	VM        string    `json:"vm"`
	Point     string    `json:"point,omitempty"` // the new point's time name
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Read      int64     `json:"read"`   // bytes read from the source
	Stored    int64     `json:"stored"` // new bytes stored
	Reused    int64     `json:"reused"` // bytes found in the repository
	NewChunks int       `json:"new_chunks"`
	Tested    string    `json:"tested,omitempty"` // ok, failed; empty: untested
	TestError string    `json:"test_error,omitempty"`
	// Scan is the anomaly scan's verdict (clean, alert, error, first:
	// the VM's first point, nothing to compare; empty: not scanned) and
	// ScanDetail its signals or error.
	Scan       string `json:"scan,omitempty"`
	ScanDetail string `json:"scan_detail,omitempty"`
	Error      string `json:"error,omitempty"`
}

// Run results.
const (
	ResultRunning   = "running"
	ResultOK        = "ok"
	ResultFailed    = "failed"
	ResultCancelled = "cancelled"
)

func decodeRun(b []byte) (*Run, error) {
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("run record: %w", err)
	}
	return &r, nil
}

// failed lists the VMs whose capture or test restore failed.
func (r *Run) failed() []VMRun {
	var out []VMRun
	for _, v := range r.VMs {
		if v.Error != "" || v.Tested == "failed" {
			out = append(out, v)
		}
	}
	return out
}

// clone is a copy for readers while the run goes on.
func (r *Run) clone() *Run {
	c := *r
	c.VMs = append([]VMRun(nil), r.VMs...)
	return &c
}
