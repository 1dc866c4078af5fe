package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	neturl "net/url"
	"time"
)

// event is the JSON a webhook receives.
type event struct {
	Event  string     `json:"event"` // run_failed, rpo_late, scan_alert
	Time   time.Time  `json:"time"`
	Job    string     `json:"job"`
	VM     string     `json:"vm,omitempty"`
	Point  string     `json:"point,omitempty"`
	Error  string     `json:"error,omitempty"`
	Run    *Run       `json:"run,omitempty"`
	Status *VMStatus  `json:"status,omitempty"`
	Scan   *ScanAlert `json:"scan,omitempty"`
}

// notify posts e to the webhook and mails it, if configured; a failure
// is logged, not retried.
func (s *Service) notify(cfg *Config, e event) {
	e.Time = time.Now().UTC()
	if cfg.Notify.Webhook != "" {
		if err := post(cfg.Notify.Webhook, e); err != nil {
			s.log.Error("webhook", "event", e.Event, "job", e.Job, "err", err)
		}
	}
	if m := cfg.Notify.Email; m != nil {
		if err := sendEmail(m, e); err != nil {
			s.log.Error("email", "event", e.Event, "job", e.Job, "err", err)
		}
	}
}

func post(url string, e event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	var ue *neturl.Error
	if errors.As(err, &ue) {
		return ue.Err // without the URL, which may hold a token
	}
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
