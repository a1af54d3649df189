//go:build race

package imageio

// sync.Pool deliberately drops items under the race detector, so
// allocation counts are meaningless there.
const raceEnabled = true
