//go:build race

package web

// raceEnabled: the tests run under -race.
const raceEnabled = true
