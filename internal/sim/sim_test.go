package sim

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowml/winnow/internal/linear"
)

// A tiny world: two well separated classes on a line, an NA row and an
// unlabelled row in the pool, fixed test and initial sets.
func tinyWorld(t *testing.T) Config {
	t.Helper()
	dir := t.TempDir()
	var feats, labels strings.Builder
	feats.WriteString("path,x,y\n")
	labels.WriteString("path,label\n")
	add := func(p string, x, y float64, label string) {
		fmt.Fprintf(&feats, "%s,%g,%g\n", p, x, y)
		if label != "-" {
			fmt.Fprintf(&labels, "%s,%s\n", p, label)
		}
	}
	for i := 0; i < 4; i++ { // test
		add(fmt.Sprintf("test-a%d", i), -2-float64(i)/4, 0.1*float64(i), "a")
		add(fmt.Sprintf("test-b%d", i), 2+float64(i)/4, -0.1*float64(i), "b")
	}
	add("init-a", -1, 0, "a")
	add("init-b", 1, 0, "b")
	for i := 0; i < 3; i++ { // pool
		add(fmt.Sprintf("pool-a%d", i), -0.5-float64(i), 0.2, "a")
		add(fmt.Sprintf("pool-b%d", i), 0.5+float64(i), -0.2, "b")
	}
	add("pool-na", 0.1, 0, "other")  // outside the classes: NA
	add("pool-nolabel", 0.2, 0, "-") // no oracle label: NA
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var test strings.Builder
	test.WriteString("path\n")
	for i := 0; i < 4; i++ {
		fmt.Fprintf(&test, "test-a%d\ntest-b%d\n", i, i)
	}
	return Config{
		Features: []string{write("f.csv", feats.String())}, Labels: write("l.csv", labels.String()),
		Classes: []string{"a", "b"}, Test: write("test.csv", test.String()), Initial: write("init.csv", "path\ninit-a\ninit-b\n"),
		Batch: 2, Rounds: 3, Strategies: []string{"least-confidence", "random"}, Repeats: 3, Seed: 7,
		Params: linear.Params{L1: 0.01, L2: 0.01},
	}
}

func TestProtocolRoundsNAAndPoolShrinkage(t *testing.T) {
	cfg := tinyWorld(t)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.NTest != 8 || res.NInitial != 2 || res.NPool != 8 {
		t.Fatalf("split %d/%d/%d, want 8 test, 2 initial, 8 pool", res.NTest, res.NInitial, res.NPool)
	}
	byReplay := map[string][]Point{}
	for _, p := range res.Points {
		k := fmt.Sprintf("%s/%d", p.Strategy, p.Repeat)
		byReplay[k] = append(byReplay[k], p)
	}
	if len(byReplay) != 1+3 {
		t.Fatalf("%d replays, want 1 least-confidence + 3 random", len(byReplay))
	}
	na := map[string]bool{"pool-na": true, "pool-nolabel": true}
	for k, pts := range byReplay {
		if len(pts) != cfg.Rounds+1 {
			t.Fatalf("%s: %d rounds, want %d (round 0 plus %d)", k, len(pts), cfg.Rounds+1, cfg.Rounds)
		}
		seen := map[string]bool{}
		usable := 0
		for i, p := range pts {
			if p.Round != i || p.NQueried != i*cfg.Batch {
				t.Fatalf("%s round %d: round field %d, n_queried %d", k, i, p.Round, p.NQueried)
			}
			if p.NTrain != 2+usable {
				t.Fatalf("%s round %d: n_train %d, want 2 initial + %d usable queried", k, i, p.NTrain, usable)
			}
			if i < cfg.Rounds && len(p.Picked) != cfg.Batch {
				t.Fatalf("%s round %d picked %v", k, i, p.Picked)
			}
			if i == cfg.Rounds && len(p.Picked) != 0 {
				t.Fatalf("%s: the last model picked %v, which nothing would use", k, p.Picked)
			}
			for _, path := range p.Picked {
				if !strings.HasPrefix(path, "pool-") || seen[path] {
					t.Fatalf("%s: picked %s (outside the pool, or twice)", k, path)
				}
				seen[path] = true
				if !na[path] {
					usable++
				}
			}
		}
	}
	// Least confidence goes for the rows nearest the boundary: the NA rows
	// at x=0.1 and 0.2 are the most uncertain, so they go first and teach
	// nothing.
	lc := byReplay["least-confidence/0"]
	if got := lc[0].Picked; !(na[got[0]] && na[got[1]]) {
		t.Errorf("least-confidence first batch %v; want the two rows at the boundary", got)
	}
	if lc[1].NTrain != 2 {
		t.Errorf("NA rows trained: n_train %d after querying them", lc[1].NTrain)
	}
	// Fixed --test and --initial: least-confidence ran once, and its one
	// final score is paired with each of random's three draws. The p-value
	// is recomputed here by brute force over the 2^3 sign vectors.
	var diffs []float64
	own := lc[len(lc)-1].Report.Accuracy
	for k, pts := range byReplay {
		if strings.HasPrefix(k, "random/") {
			diffs = append(diffs, own-pts[len(pts)-1].Report.Accuracy)
		}
	}
	obs := math.Abs(sum(diffs))
	hits := 0
	for mask := 0; mask < 1<<len(diffs); mask++ {
		s := 0.0
		for i, v := range diffs {
			if mask&(1<<i) != 0 {
				v = -v
			}
			s += v
		}
		if math.Abs(s) >= obs-1e-12 {
			hits++
		}
	}
	got := res.Comparisons["least-confidence"].Final["accuracy"]
	if want := float64(hits) / float64(int(1)<<len(diffs)); got.N != 3 || got.P != want || !got.Exact {
		t.Errorf("paired accuracy test %+v, want n=3, exact p=%g", got, want)
	}
	if math.Abs(got.MeanDiff-sum(diffs)/3) > 1e-12 {
		t.Errorf("mean paired difference %g, want %g", got.MeanDiff, sum(diffs)/3)
	}
	// The x axis is labels asked: least-confidence's first batch was the
	// two NA rows, which cost two labels and trained nothing.
	if lc[1].NAsked != 4 || lc[1].NTrain != 2 {
		t.Errorf("after the NA batch: %d labels asked, %d trained; want 4 and 2", lc[1].NAsked, lc[1].NTrain)
	}
	if res.Full.NTrain != 8 {
		t.Errorf("full model trained on %d rows, want the 2 initial + 6 usable pool rows", res.Full.NTrain)
	}
}

func TestPoolRunsOut(t *testing.T) {
	cfg := tinyWorld(t)
	cfg.Rounds, cfg.Strategies = 6, []string{"entropy"}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Exhausted["entropy"] != 4 || len(res.Points) != 5 {
		t.Fatalf("exhausted at %v with %d points; want round 4 (8 pool rows / 2) and 5 points", res.Exhausted, len(res.Points))
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"initial missing a class", func(c *Config) { os.WriteFile(c.Initial, []byte("path\ninit-a\n"), 0o644) }, "no row of class b"},
		{"pool smaller than a batch", func(c *Config) { c.Batch = 9 }, "fewer than one batch"},
		{"no overlap", func(c *Config) { os.WriteFile(c.Labels, []byte("path,label\nzzz,a\n"), 0o644) }, "share no path"},
		{"unknown strategy", func(c *Config) { c.Strategies = []string{"psychic"} }, "psychic"},
	}
	for _, c := range cases {
		cfg := tinyWorld(t)
		c.edit(&cfg)
		if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", c.name, err, c.want)
		}
	}
}

func TestDuplicatePathsAcrossFilesAreNoted(t *testing.T) {
	cfg := tinyWorld(t)
	cfg.Features = append(cfg.Features, cfg.Features[0])
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.NPool != 8 || !strings.Contains(strings.Join(res.Notes, ";"), "repeated a path") {
		t.Fatalf("pool %d, notes %v", res.NPool, res.Notes)
	}
}

func TestRoundsCSVAndSummary(t *testing.T) {
	cfg := tinyWorld(t)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := res.WriteRounds(&buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := "strategy,repeat,round,n_train,n_queried,accuracy,log_loss,macro_auc,auc_a,auc_b"
	if strings.Join(recs[0], ",") != want || len(recs) != 1+len(res.Points) {
		t.Fatalf("header %v, %d rows", recs[0], len(recs))
	}
	buf.Reset()
	if err := res.WriteSummary(&buf); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"p_values"`, `"vs_random"`, `"labels_to_target"`, `"full"`, `"least-confidence"`, `"paired_test"`, `"labels_asked"`} {
		if !strings.Contains(buf.String(), key) {
			t.Errorf("summary lacks %s", key)
		}
	}
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}
