package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// holder is written into the lock file by the process holding the repository.
type holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// lockRepo takes the repository's exclusive lock without waiting. The lock
// is an flock, so it vanishes with its process, even after kill -9.
func lockRepo(path, command string) (*os.File, error) {
	// O_NOFOLLOW: a symlink planted at lock must not make us write its target.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, fileMode)
	if errors.Is(err, syscall.ELOOP) {
		return nil, symlinkError(path)
	}
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if err == syscall.EWOULDBLOCK {
			return nil, heldError(path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	b, _ := json.Marshal(holder{PID: os.Getpid(), Command: command, Since: time.Now().UTC()})
	if err := f.Truncate(0); err == nil {
		f.WriteAt(b, 0)
	}
	return f, nil
}

func heldError(path string) error {
	var h holder
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &h) == nil && h.PID > 0 {
		return fmt.Errorf("%w: pid %d (%s) has held it since %s; wait for it to finish or stop it",
			ErrHeld, h.PID, strings.TrimSpace(h.Command), h.Since.Format(time.RFC3339))
	}
	return ErrHeld
}
