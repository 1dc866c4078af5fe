package catalog

import "testing"

// testRepo1 is a format-1 repository (fixed chunks of MinChunkSize), for
// the tests written against chunk indexes before format 2.
func testRepo1(t testing.TB) *Repo {
	t.Helper()
	return TestRepoWith(t, InitOptions{ChunkSize: MinChunkSize})
}
