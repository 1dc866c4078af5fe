package service

import (
	"context"
	"fmt"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/service/testrestore"
)

// RestoreTester is the Tester of package testrestore: it records the
// result with the point (`points` shows it) and fails a point that
// does not restore. "sample N/M" reads about one file in M/N.
func RestoreTester(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, s Sample) error {
	n := 1
	if s.Num > 0 {
		n = max(1, (s.Den+s.Num/2)/s.Num)
	}
	res, err := testrestore.Run(ctx, repo, m, testrestore.Options{Sample: n})
	if err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("test restore of %s failed: %s", m.ID(), res.Reason())
	}
	return nil
}
