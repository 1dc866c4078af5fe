package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/forensic/scan"
)

// Scanner scans point m against the point before it, with the rules of
// rulesFile (the built-in rules when ""), records the state with the
// point (`points` shows it) and says what tripped.
type Scanner func(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, rulesFile string) (*ScanAlert, error)

// ScanAlert is what the scan of a new point found: an alert when
// Signals are set.
type ScanAlert struct {
	Before  string   `json:"before,omitempty"`  // the point compared with; "": the VM's first
	Signals []string `json:"signals,omitempty"` // "kind: detail"
	Files   []string `json:"files,omitempty"`
}

func (a *ScanAlert) String() string { return strings.Join(a.Signals, "; ") }

// maxAlertFiles bounds the files an alert names (the scan command lists all).
const maxAlertFiles = 20

// PointScanner is the Scanner of package forensic/scan.
func PointScanner(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, rulesFile string) (*ScanAlert, error) {
	rules := scan.DefaultRules()
	if rulesFile != "" {
		var err error
		if rules, err = scan.LoadRules(rulesFile); err != nil {
			return nil, err
		}
	}
	res, err := scan.Scan(ctx, repo, m.VM, scan.Options{From: m.Name(), To: m.Name(), Rules: rules, Record: true})
	if err != nil {
		return nil, fmt.Errorf("scan of %s: %w", m.ID(), err)
	}
	var a ScanAlert
	for _, p := range res.Points {
		a.Before = p.Before
		if len(p.Errors) > 0 {
			return nil, fmt.Errorf("scan of %s incomplete: %s", m.ID(), strings.Join(p.Errors, "; "))
		}
		for _, s := range p.Signals {
			a.Signals = append(a.Signals, s.Kind+": "+s.Detail)
			for _, f := range s.Files {
				if len(a.Files) < maxAlertFiles {
					a.Files = append(a.Files, f)
				}
			}
		}
	}
	return &a, nil
}

// scanPoints scans the run's new points when the job asks for it, and
// notifies each alert (a point that tripped a signal is a good backup of
// a guest that may be under attack: the run itself does not fail).
func (s *Service) scanPoints(ctx context.Context, cfg *Config, j *JobConfig, run *Run, points map[string]*catalog.Manifest) {
	if !j.Scan || len(points) == 0 {
		return
	}
	if s.scanner == nil {
		s.log.Warn("scan is configured but this build has no scanner: points stay unscanned", "job", j.Name)
		return
	}
	for i := range run.VMs {
		m := points[run.VMs[i].VM]
		if m == nil || ctx.Err() != nil {
			continue
		}
		alert, err := s.scanner(ctx, s.repo, m, j.ScanRules)
		s.update(func() {
			v := &run.VMs[i]
			switch {
			case err != nil:
				v.Scan, v.ScanDetail = "error", err.Error()
			case len(alert.Signals) > 0:
				v.Scan, v.ScanDetail = "alert", alert.String()
			case alert.Before == "":
				v.Scan = "first" // nothing to compare with
			default:
				v.Scan = "clean"
			}
		})
		if err == nil && len(alert.Signals) > 0 {
			s.log.Warn("scan alert", "job", j.Name, "vm", m.VM, "point", m.Name(), "signals", alert.String())
			s.notify(cfg, event{Event: "scan_alert", Job: j.Name, VM: m.VM, Point: m.Name(), Error: alert.String(), Scan: alert})
		}
	}
}
