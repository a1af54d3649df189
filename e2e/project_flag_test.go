package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --project DIR stands in for --features and --model: predict, evaluate and
// select read the project's features and latest model, and select never
// picks a labelled or held-out image of the project.
func TestProjectFlag(t *testing.T) {
	proj := webProject(t, webProjectOptions{perClass: 20, gold: 6, batch: 8, pageSize: 4, gate: "all-correct"})
	out := t.TempDir()
	p := func(name string) string { return filepath.Join(out, name) }

	if _, stderr, code := run(t, "predict", "--project", proj, "-o", p("pred.csv")); code != 0 {
		t.Fatalf("predict --project: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := run(t, "predict", "-o", p("x.csv")); code != 2 || !strings.Contains(stderr, "--features is required (or --project DIR)") {
		t.Errorf("predict without --features or --project: exit %d, %s", code, stderr)
	}
	preds := readCSV(t, p("pred.csv"))
	features := filepath.Join(proj, "features", "features.parquet")
	if _, stderr, code := run(t, "predict", "--features", features, "--model", latestModel(t, proj), "-o", p("pred2.csv")); code != 0 {
		t.Fatalf("predict with explicit paths: exit %d\n%s", code, stderr)
	}
	a, _ := os.ReadFile(p("pred.csv"))
	b, _ := os.ReadFile(p("pred2.csv"))
	if len(preds) < 2 || string(a) != string(b) {
		t.Fatalf("predict --project (%d rows) differs from predict with the project's own paths", len(preds)-1)
	}

	labelled := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(proj, "labels", "*.csv"))
	if len(files) == 0 {
		t.Fatal("the project has no label files to exclude")
	}
	for _, f := range files {
		for _, r := range readCSV(t, f)[1:] {
			labelled[r[0]] = true
		}
	}
	test := files[0]
	for _, f := range files {
		if strings.Contains(filepath.Base(f), "test") {
			test = f
		}
	}
	if stdout, stderr, code := run(t, "evaluate", "--project", proj, "--labels", test); code != 0 || !strings.Contains(stdout, "accuracy") {
		t.Fatalf("evaluate --project: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, stderr, code := run(t, "select", "--project", proj, "-n", "30", "--novelty-share", "0", "-o", p("next.csv")); code != 0 {
		t.Fatalf("select --project: exit %d\n%s", code, stderr)
	}
	picks := readCSV(t, p("next.csv"))
	if len(picks) != 31 {
		t.Fatalf("select picked %d rows, want 30", len(picks)-1)
	}
	for _, r := range picks[1:] {
		if labelled[r[0]] {
			t.Errorf("select --project picked %s, which the project has labelled or holds out", r[0])
		}
	}
}

// latestModel is the newest models/round-N.json of a project.
func latestModel(t *testing.T, proj string) string {
	t.Helper()
	models, _ := filepath.Glob(filepath.Join(proj, "models", "round-*.json"))
	if len(models) == 0 {
		t.Fatal("the project has no model")
	}
	return models[len(models)-1]
}
