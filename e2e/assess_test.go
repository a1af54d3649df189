package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAssess drives winnow assess as a user would: participants' answers
// come in with import-labels --participant (offline labelling), assess
// writes JSON, HTML and the rows each model trained on, and each
// participant's model is retrained by hand with winnow train and scored
// with winnow evaluate: the accuracies must be the same numbers.
func TestAssess(t *testing.T) {
	proj := webProject(t, webProjectOptions{perClass: 30, gold: 12, batch: 20, pageSize: 5, gate: "off"})
	work := t.TempDir()

	// No answers yet: every agreement statistic is null, nothing crashes.
	empty := filepath.Join(work, "empty.json")
	if _, stderr, code := run(t, "assess", proj, "--no-models", "--json", empty); code != 0 {
		t.Fatalf("assess without answers: exit %d\n%s", code, stderr)
	}
	var e map[string]any
	readJSON(t, empty, &e)
	if e["fleiss_kappa"] != nil || len(e["participants"].([]any)) != 0 {
		t.Fatalf("without answers: fleiss %v, participants %v", e["fleiss_kappa"], e["participants"])
	}

	// The pool images (not gold) with their true class, from the folder
	// names webProject wrote.
	gold := map[string]bool{}
	goldRows := readCSV(t, filepath.Join(filepath.Dir(proj), "gold.csv"))[1:]
	for _, r := range goldRows {
		gold[r[0]] = true
	}
	goldPath := goldRows[0][0]
	var pool []string
	for _, c := range webClasses {
		ms, _ := filepath.Glob(filepath.Join(filepath.Dir(proj), "images", c.name, "*.png"))
		for _, m := range ms {
			rel := c.name + "/" + filepath.Base(m)
			if !gold[rel] {
				pool = append(pool, rel)
			}
		}
	}
	if len(pool) < 60 {
		t.Fatalf("%d pool images", len(pool))
	}
	names := []string{}
	for _, c := range webClasses {
		names = append(names, c.name)
	}
	next := func(c string) string {
		for i, n := range names {
			if n == c {
				return names[(i+1)%len(names)]
			}
		}
		return c
	}
	twoRaters(t, proj, pool, names[0])

	rng := rand.New(rand.NewPCG(3, 3))
	team := map[string]func(string) string{
		"Good": func(c string) string { return c },
		"Noisy": func(c string) string {
			if rng.IntN(3) == 0 {
				return next(c)
			}
			return c
		},
		"Adversary": next,
	}
	for _, name := range []string{"Good", "Noisy", "Adversary"} {
		var b strings.Builder
		b.WriteString("path,label\n")
		for _, p := range pool {
			fmt.Fprintf(&b, "%s,%s\n", p, team[name](strings.Split(p, "/")[0]))
		}
		b.WriteString("no/such.png,bag\n")
		fmt.Fprintf(&b, "%s,parka\n", goldPath) // a known image, an unknown class
		file := filepath.Join(work, name+".csv")
		os.WriteFile(file, []byte(b.String()), 0o644)
		stdout, stderr, code := run(t, "import-labels", proj, file, "--participant", name)
		if code != 0 || !strings.Contains(stdout, "1 unknown path") || !strings.Contains(stdout, `"parka": 1`) {
			t.Fatalf("import-labels --participant %s: exit %d\n%s%s", name, code, stdout, stderr)
		}
	}
	if _, stderr, code := run(t, "import-labels", proj, filepath.Join(work, "Good.csv"), "--participant", "X", "--gold"); code != 2 {
		t.Fatalf("--gold with --participant: exit %d, want 2\n%s", code, stderr)
	}
	// An output naming an input is refused before any work.
	if _, _, code := run(t, "assess", proj, "--json", filepath.Join(proj, "winnow.db")); code != 2 {
		t.Fatalf("assess --json over winnow.db: exit %d, want 2", code)
	}

	// --truth: a file that is not a CSV is refused; a CSV's rows are
	// matched to the project's images and counted.
	features := filepath.Join(proj, "features", "features.parquet")
	if _, stderr, code := run(t, "assess", proj, "--no-models", "--truth", features); code != 1 || !strings.Contains(stderr, "--truth "+features+": not a CSV") {
		t.Errorf("--truth features.parquet: exit %d, want 1\n%s", code, stderr)
	}
	var tb strings.Builder
	tb.WriteString("path,label\n")
	for _, p := range pool {
		fmt.Fprintf(&tb, "%s,%s\n", p, strings.Split(p, "/")[0])
	}
	tb.WriteString("elsewhere/1.png,bag\nelsewhere/2.png,bag\n")
	truth := filepath.Join(work, "truth.csv")
	os.WriteFile(truth, []byte(tb.String()), 0o644)

	jsonOut, htmlOut, rows := filepath.Join(work, "a.json"), filepath.Join(work, "a.html"), filepath.Join(work, "rows")
	stdout, stderr, code := run(t, "assess", proj, "--json", jsonOut, "--html", htmlOut, "--rows", rows, "--truth", truth)
	if code != 0 {
		t.Fatalf("assess: exit %d\n%s", code, stderr)
	}
	if want := fmt.Sprintf("assess: --truth %s: %d of %d rows matched project images; 2 unknown paths\n", truth, len(pool), len(pool)+2); !strings.Contains(stdout, want) {
		t.Errorf("assess --truth: stdout lacks %q:\n%s", want, stdout)
	}
	var rep struct {
		Participants []struct {
			ID    int64    `json:"id"`
			Name  string   `json:"name"`
			N     int      `json:"n"`
			Kappa *float64 `json:"kappa_vs_consensus"`
			Model *float64 `json:"model_accuracy"`
		} `json:"participants"`
		Fleiss  *float64 `json:"fleiss_kappa"`
		Ranking []struct {
			Rank int    `json:"rank"`
			Name string `json:"name"`
		} `json:"ranking"`
		Consensus struct {
			Method string             `json:"method"`
			Acc    map[string]float64 `json:"labeller_accuracy"`
		} `json:"consensus"`
		Models []struct {
			Name     string   `json:"name"`
			Kind     string   `json:"kind"`
			Rank     int      `json:"rank"`
			Accuracy *float64 `json:"accuracy"`
			RowsFile string   `json:"rows_file"`
		} `json:"models"`
	}
	readJSON(t, jsonOut, &rep)
	if len(rep.Participants) != 3 || rep.Fleiss == nil || rep.Consensus.Method != "dawid-skene" {
		t.Fatalf("assessment: %+v\n%s", rep, stdout)
	}
	if rep.Consensus.Acc["Adversary"] > 0.1 || rep.Consensus.Acc["Good"] < 0.9 {
		t.Errorf("Dawid-Skene's labeller accuracies %v", rep.Consensus.Acc)
	}
	if len(rep.Ranking) != 3 || rep.Ranking[0].Name != "Good" || rep.Ranking[0].Rank != 1 || rep.Ranking[2].Name != "Adversary" || rep.Ranking[2].Rank != 3 {
		t.Errorf("ranking %+v", rep.Ranking)
	}
	if !strings.Contains(stdout, "ranking by Dawid-Skene accuracy") {
		t.Errorf("no ranking in the text:\n%s", stdout)
	}
	html, _ := os.ReadFile(htmlOut)
	if !strings.Contains(string(html), "<svg") || !strings.Contains(string(html), "Adversary") {
		t.Error("the HTML report has no chart or no participants")
	}
	test := filepath.Join(rows, "test.csv")
	for _, p := range rep.Participants {
		if p.N != len(pool) || p.Model == nil {
			t.Fatalf("%s: %d labelled, model %v", p.Name, p.N, p.Model)
		}
		labels := filepath.Join(rows, fmt.Sprintf("participant-%d.csv", p.ID))
		model := filepath.Join(work, p.Name+".model.json")
		if _, stderr, code := run(t, "train", "--features", features, "--labels", labels, "--classes", strings.Join(names, ","), "-o", model); code != 0 {
			t.Fatalf("train on %s: exit %d\n%s", labels, code, stderr)
		}
		ev := filepath.Join(work, p.Name+".eval.json")
		if _, stderr, code := run(t, "evaluate", "--model", model, "--features", features, "--labels", test, "--json", ev); code != 0 {
			t.Fatalf("evaluate: exit %d\n%s", code, stderr)
		}
		var m struct {
			Accuracy *float64 `json:"accuracy"`
		}
		readJSON(t, ev, &m)
		if m.Accuracy == nil || *m.Accuracy != *p.Model {
			t.Errorf("%s: assess says model accuracy %v, train + evaluate by hand %v", p.Name, *p.Model, m.Accuracy)
		}
	}
	var good, adv float64
	for _, p := range rep.Participants {
		switch p.Name {
		case "Good":
			good = *p.Model
		case "Adversary":
			adv = *p.Model
		}
	}
	if good <= adv {
		t.Errorf("the good labeller's model (%.3f) is not above the adversary's (%.3f)", good, adv)
	}

	// Close round: three participants answered (imported answers count as
	// a round of their own), so Dawid-Skene decides and the adversary's
	// labels do not train.
	if _, stderr, code := run(t, "round", "close", proj); code != 0 {
		t.Fatalf("round close: exit %d\n%s", code, stderr)
	}
	consensus := readCSV(t, filepath.Join(proj, "labels", "round-1.csv"))
	wrong := 0
	for _, r := range consensus[1:] {
		if !gold[r[0]] && strings.Split(r[0], "/")[0] != r[1] {
			wrong++
		}
	}
	if len(consensus)-1 < len(pool) || wrong > 0 {
		t.Errorf("round 1's training labels: %d rows, %d wrong", len(consensus)-1, wrong)
	}
}

// twoRaters is the case of issue 19 on a copy of the project: two
// participants answer the same 4 items, one honestly, one with the same
// class for every item. assess must say that is too few to estimate
// either, in the text and as null with the reason in the JSON, and rank
// neither.
func twoRaters(t *testing.T, proj string, pool []string, key string) {
	t.Helper()
	pair := filepath.Join(filepath.Dir(proj), "pair") // beside it: the images are where the settings say
	copyTree(t, proj, pair)
	for _, name := range []string{"Honest", "Presser"} {
		var b strings.Builder
		b.WriteString("path,label\n")
		for _, p := range pool[:4] {
			label := strings.Split(p, "/")[0]
			if name == "Presser" {
				label = key
			}
			fmt.Fprintf(&b, "%s,%s\n", p, label)
		}
		file := filepath.Join(t.TempDir(), name+".csv")
		os.WriteFile(file, []byte(b.String()), 0o644)
		if _, stderr, code := run(t, "import-labels", pair, file, "--participant", name); code != 0 {
			t.Fatalf("import-labels %s: exit %d\n%s", name, code, stderr)
		}
	}
	out := filepath.Join(t.TempDir(), "pair.json")
	stdout, stderr, code := run(t, "assess", pair, "--no-models", "--json", out)
	if code != 0 {
		t.Fatalf("assess on two raters: exit %d\n%s", code, stderr)
	}
	var rep struct {
		Participants []struct {
			Name string            `json:"name"`
			DS   *float64          `json:"ds_accuracy"`
			Why  map[string]string `json:"undefined"`
		} `json:"participants"`
		Ranking []struct {
			Rank int      `json:"rank"`
			DS   *float64 `json:"ds_accuracy"`
			Why  string   `json:"undefined"`
		} `json:"ranking"`
	}
	readJSON(t, out, &rep)
	const tooFew = "too few shared answers to estimate"
	for _, p := range rep.Participants {
		if p.DS != nil || !strings.HasPrefix(p.Why["ds_accuracy"], tooFew) {
			t.Errorf("%s: ds_accuracy %v, why %q", p.Name, p.DS, p.Why["ds_accuracy"])
		}
	}
	if len(rep.Ranking) != 2 || rep.Ranking[0].Rank != 0 || rep.Ranking[1].Rank != 0 || !strings.HasPrefix(rep.Ranking[0].Why, tooFew) {
		t.Errorf("ranking of two raters on 4 items: %+v", rep.Ranking)
	}
	if strings.Count(stdout, tooFew) < 2 {
		t.Errorf("the text does not say %q for both:\n%s", tooFew, stdout)
	}
}

// copyTree copies a project folder (its database, settings and features).
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}
