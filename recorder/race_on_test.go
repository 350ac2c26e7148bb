//go:build race

package recorder

// raceEnabled: the race detector drops a share of sync.Pool puts on
// purpose, so allocation counts mean nothing.
const raceEnabled = true
