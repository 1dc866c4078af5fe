package format

import (
	"fmt"
	"time"
)

// MinPointTime is the earliest capture time a new point may have. Point keys
// order times as unsigned seconds since 1970, and no VM was captured before
// 1990: an earlier time is a wrong clock or a typo.
var MinPointTime = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)

// MaxPointAhead is how far past now a new point's time may be: a point from
// a clock years ahead would stay "latest" for years.
const MaxPointAhead = 24 * time.Hour

// CheckPointTime accepts t as the time of a new point captured at now.
func CheckPointTime(t, now time.Time) error {
	if t.Before(MinPointTime) || t.After(now.Add(MaxPointAhead)) {
		return fmt.Errorf("point time %s: want a time from %s to one day from now (%s)",
			t.UTC().Format(time.RFC3339), MinPointTime.Format(PointTimeFormat), FormatPointTime(now.Add(MaxPointAhead)))
	}
	return nil
}
