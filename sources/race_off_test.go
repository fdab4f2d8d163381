//go:build !race

package sources

// raceEnabled scales load tests down under the race detector.
const raceEnabled = false
