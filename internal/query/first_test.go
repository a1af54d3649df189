package query

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Without a model the picks are the n best random keys, each path once
// however often the pool repeats it, and the excluded paths never.
func TestRunFirstBatch(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	var x [][]float32
	for i := 0; i < 200; i++ {
		p := fmt.Sprintf("img/%03d.png", i%150) // 50 paths twice
		paths = append(paths, p)
		x = append(x, []float32{float32(i), 1})
	}
	pool := writePool(t, dir, paths, x)
	excl := filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(excl, []byte("path,label\nimg/000.png,a\nimg/001.png,b\nnot/in/pool.png,a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "first.csv")
	var log strings.Builder
	sum, err := Run(context.Background(), Config{Features: pool, Output: out, Exclude: []string{excl}, Strategy: "random", N: 30, Options: Options{Seed: 3}, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != 200 || sum.Excluded != 4 || sum.Picked != 30 || sum.Unmatched != 1 {
		t.Errorf("summary %+v", sum)
	}
	type cand struct {
		p string
		k key
	}
	var want []cand
	for i := 2; i < 150; i++ {
		p := fmt.Sprintf("img/%03d.png", i)
		want = append(want, cand{p, randomKey(3, p)})
	}
	sort.Slice(want, func(a, b int) bool { return want[a].k.before(want[b].k) })
	recs := readCSV(t, out)
	if strings.Join(recs[0], ",") != "path,rank,score,label" || len(recs) != 31 {
		t.Fatalf("header %v, %d rows", recs[0], len(recs)-1)
	}
	for i, r := range recs[1:] {
		if r[0] != want[i].p || r[1] != fmt.Sprint(i+1) || r[2] != formatScore(want[i].k.score) || r[3] != "" {
			t.Errorf("pick %d: %v, want %s", i+1, r, want[i].p)
		}
	}
	if !strings.Contains(log.String(), "1 path of --exclude is not in") || !strings.Contains(log.String(), "no --model: random picked 30 of 200 rows") {
		t.Errorf("log: %s", log.String())
	}
	if _, err := Run(context.Background(), Config{Features: pool, Output: out, Strategy: "entropy", N: 3}); err == nil || !strings.Contains(err.Error(), "--model") {
		t.Errorf("entropy without a model: %v", err)
	}
}
