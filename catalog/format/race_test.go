//go:build race

package format

// raceEnabled: the race detector slows argon2id tenfold.
const raceEnabled = true
