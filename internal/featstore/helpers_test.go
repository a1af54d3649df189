package featstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
)

// makeRows returns n rows with dim features that look like pooled CNN
// activations: non-negative, many exact zeros, a long tail.
func makeRows(n, dim int, seed uint64) []Row {
	rng := rand.New(rand.NewPCG(seed, 42))
	rows := make([]Row, n)
	for i := range rows {
		f := make([]float32, dim)
		for j := range f {
			if rng.Float32() < 0.3 {
				continue
			}
			f[j] = float32(rng.ExpFloat64())
		}
		p := fmt.Sprintf("images/%d/img_%06d.jpg", seed, i)
		sum := sha256.Sum256([]byte(p))
		rows[i] = Row{
			Path:     p,
			SHA256:   hex.EncodeToString(sum[:]),
			Width:    int32(100 + rng.IntN(4000)),
			Height:   int32(100 + rng.IntN(4000)),
			Features: f,
		}
	}
	return rows
}
