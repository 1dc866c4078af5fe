package service

import (
	"context"
	"fmt"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/service/testrestore"
)

// RestoreTester is the Tester of package testrestore: it records the
// result with the point (`points` shows it) and fails a point that
// does not restore. "sample N/M" reads the data of N files in M.
func RestoreTester(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, s Sample) error {
	res, err := testrestore.Run(ctx, repo, m, testrestore.Options{Sample: s.Den, Take: s.Num})
	if err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("test restore of %s failed: %s", m.ID(), res.Reason())
	}
	return nil
}
