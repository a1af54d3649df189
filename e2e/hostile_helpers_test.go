package e2e

import (
	"context"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/winnowml/winnow/internal/featstore"
)

// runTimeout is run with a deadline: a case that would hang (a FIFO opened
// for reading) fails instead of blocking the suite.
func runTimeout(t *testing.T, d time.Duration, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, winnow, args...)
	stdout, stderr, code := runCmd(t, cmd)
	if ctx.Err() != nil {
		t.Fatalf("winnow %v did not finish within %v\n%s", args, d, stderr)
	}
	return stdout, stderr, code
}

// writePool writes a Parquet pool of n random rows of dim features and a
// model.json that fits it (two classes, random weights), as featurize and
// train would have.
func writePool(t *testing.T, dir string, n, dim int) (pool, model string) {
	t.Helper()
	meta := featstore.Meta{Backbone: "synthetic", BackboneSHA256: "5e", Dim: dim, Preprocess: "none", Version: "test"}
	pool = filepath.Join(dir, "pool.parquet")
	w, err := featstore.Create(pool, meta)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	rows := make([]featstore.Row, 0, 4096)
	for i := 0; i < n; i++ {
		f := make([]float32, dim)
		for j := range f {
			f[j] = rng.Float32()
		}
		rows = append(rows, featstore.Row{Path: "img/" + strconv.Itoa(i) + ".jpg", SHA256: "00", Width: 1, Height: 1, Features: f})
		if len(rows) == cap(rows) || i == n-1 {
			if err := w.Write(rows...); err != nil {
				t.Fatal(err)
			}
			rows = rows[:0]
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	weights := make([][]float64, 2)
	for c := range weights {
		weights[c] = make([]float64, dim)
		for j := range weights[c] {
			weights[c][j] = rng.NormFloat64()
		}
	}
	ones, zeros := make([]float64, dim), make([]float64, dim)
	for j := range ones {
		ones[j] = 1
	}
	doc := map[string]any{
		"format":   "winnow-model/1",
		"backbone": map[string]any{"name": meta.Backbone, "sha256": meta.BackboneSHA256, "dim": dim, "preprocess": meta.Preprocess},
		"model": map[string]any{"classes": []string{"a", "b"}, "w": weights, "b": []float64{0, 0},
			"normalization": map[string]any{"kind": "auto", "offset": zeros, "scale": ones}},
	}
	data, _ := json.Marshal(doc)
	model = filepath.Join(dir, "model.json")
	if err := os.WriteFile(model, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return pool, model
}
