package e2e

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The classifier loop a user runs: featurize, train, evaluate, predict,
// select, simulate -- on the checked-in Fashion-MNIST sample.
func TestClassifierLoop(t *testing.T) {
	work := t.TempDir()
	images := repo("testdata/images/fmnist")
	labels := filepath.Join(images, "labels.csv")
	feats := filepath.Join(work, "f.parquet")
	mustRun := func(args ...string) (string, string) {
		t.Helper()
		return runOK(t, args...)
	}
	mustRun("featurize", images, "-o", feats, "--model", "pixels:28x28:gray", "-q")

	// CSV and Parquet features give the same model.
	featsCSV := filepath.Join(work, "f.csv")
	mustRun("features", "export", feats, "-o", featsCSV)
	mPQ, mCSV := filepath.Join(work, "m.json"), filepath.Join(work, "m-csv.json")
	_, stderr := mustRun("train", "--features", feats, "--labels", labels, "-o", mPQ)
	if !strings.Contains(stderr, "converged") {
		t.Errorf("train did not report convergence:\n%s", stderr)
	}
	mustRun("train", "--features", featsCSV, "--labels", labels, "-o", mCSV)
	type modelFile struct {
		Backbone struct{ Name string }
		Model    struct {
			Classes []string
			W       [][]float64
			B       []float64
		}
	}
	var a, b modelFile
	for p, m := range map[string]*modelFile{mPQ: &a, mCSV: &b} {
		data, _ := os.ReadFile(p)
		if err := json.Unmarshal(data, m); err != nil {
			t.Fatal(err)
		}
	}
	if len(a.Model.W) != 10 || len(a.Model.W[0]) != 784 || strings.Join(a.Model.Classes, ",") != strings.Join(b.Model.Classes, ",") {
		t.Fatalf("model shape %dx%d, classes %v vs %v", len(a.Model.W), len(a.Model.W[0]), a.Model.Classes, b.Model.Classes)
	}
	for k := range a.Model.W {
		for j := range a.Model.W[k] {
			if a.Model.W[k][j] != b.Model.W[k][j] {
				t.Fatalf("W[%d][%d]: %g from Parquet, %g from CSV", k, j, a.Model.W[k][j], b.Model.W[k][j])
			}
		}
	}
	if a.Backbone.Name != "pixels-28x28-l" || b.Backbone.Name != "" {
		t.Errorf("backbone identity: parquet %q, csv %q", a.Backbone.Name, b.Backbone.Name)
	}

	// evaluate: text, JSON with the documented keys, HTML with plots.
	jsonOut, htmlOut := filepath.Join(work, "e.json"), filepath.Join(work, "e.html")
	stdout, _ := mustRun("evaluate", "--model", mPQ, "--features", feats, "--labels", labels, "--json", jsonOut, "--html", htmlOut)
	if !strings.Contains(stdout, "accuracy") || !strings.Contains(stdout, "confusion") {
		t.Errorf("evaluate printed:\n%s", stdout)
	}
	var rep map[string]any
	data, _ := os.ReadFile(jsonOut)
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"n", "accuracy", "log_loss", "auc", "macro_auc", "precision", "recall", "f1", "confusion"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("evaluate --json lacks %q", k)
		}
	}
	if n := rep["n"].(float64); n != 100 {
		t.Errorf("n = %v", n)
	}
	page, _ := os.ReadFile(htmlOut)
	if strings.Count(string(page), "<svg") < 3 {
		t.Errorf("the HTML report has %d plots", strings.Count(string(page), "<svg"))
	}

	// predict: one row per image, probabilities per class.
	preds := filepath.Join(work, "p.csv")
	mustRun("predict", "--model", mPQ, "--features", feats, "-o", preds)
	f, _ := os.Open(preds)
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	probCols := 0
	for _, h := range recs[0] {
		if strings.HasPrefix(h, "p_") {
			probCols++
		}
	}
	if len(recs) != 101 || recs[0][0] != "path" || recs[0][1] != "predicted" || probCols != 10 ||
		!slices.Contains(recs[0], "max_prob") || !slices.Contains(recs[0], "entropy") {
		t.Fatalf("predict: %d rows, header %v", len(recs), recs[0])
	}

	// A model refuses features of another backbone.
	other := filepath.Join(work, "tiny.parquet")
	mustRun("featurize", images, "-o", other, "--model", tiny, "-q")
	if _, stderr, code := run(t, "predict", "--model", mPQ, "--features", other, "-o", filepath.Join(work, "x.csv")); code == 0 || !strings.Contains(stderr, "dimensions") {
		t.Errorf("features of another backbone accepted: exit %d\n%s", code, stderr)
	}

	// select: the n most uncertain, never an excluded path.
	next := filepath.Join(work, "next.csv")
	exclude := filepath.Join(work, "exclude.csv")
	os.WriteFile(exclude, []byte("path\n"+recs[1][0]+"\n"), 0o644)
	mustRun("select", "--model", mPQ, "--features", feats, "-n", "5", "--strategy", "entropy", "--exclude", exclude, "-o", next)
	f, _ = os.Open(next)
	picks, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(picks) != 6 || picks[0][0] != "path" || picks[0][1] != "rank" {
		t.Fatalf("select wrote %d rows, header %v", len(picks), picks[0])
	}
	for _, p := range picks[1:] {
		if p[0] == recs[1][0] {
			t.Errorf("select picked the excluded %s", p[0])
		}
	}

	// simulate: the three outputs, one rounds.csv row per strategy, repeat and round.
	simDir := filepath.Join(work, "sim")
	mustRun("simulate", "--features", feats, "--labels", labels, "--out", simDir, "--test-fraction", "0.3",
		"--initial-per-class", "1", "--batch", "5", "--rounds", "2", "--strategies", "entropy,random", "--repeats", "2")
	f, _ = os.Open(filepath.Join(simDir, "rounds.csv"))
	rounds, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Paired replays: both strategies run on each of the 2 draws.
	if len(rounds) != 1+(2+2)*3 {
		t.Errorf("rounds.csv has %d rows, want header + 2 strategies x 2 draws x 3 rounds", len(rounds))
	}
	for _, name := range []string{"report.html", "summary.json"} {
		if st, err := os.Stat(filepath.Join(simDir, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty", name)
		}
	}
}
