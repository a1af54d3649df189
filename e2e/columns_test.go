package e2e

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A feature CSV as analysts have it (R, pandas): the class beside the
// features, metadata columns, any column order. Every verb that reads
// features gives the same answers whatever the layout.
func TestFeatureColumnsByName(t *testing.T) {
	w := t.TempDir()
	images := repo("testdata/images/fmnist")
	p := func(name string) string { return filepath.Join(w, name) }
	mustRun := func(args ...string) string {
		t.Helper()
		stdout, stderr := runOK(t, args...)
		return stdout + stderr
	}
	mustRun("featurize", images, "-o", p("f.parquet"), "--model", "pixels:12x12:gray", "-q")
	mustRun("features", "export", p("f.parquet"), "-o", p("f.csv"))
	labels := readCSV(t, filepath.Join(images, "labels.csv"))
	class := map[string]string{}
	for _, r := range labels[1:] {
		class[r[0]] = r[1]
	}
	export := readCSV(t, p("f.csv"))
	dim := len(export[0]) - 1

	// Layouts: the workshop's (path, class, Features.i), class first,
	// class last, and metadata columns with the features in reverse order.
	type col struct {
		name  string
		value func(row []string, i int) string
	}
	feature := func(j int) col {
		return col{fmt.Sprintf("Features.%d", j), func(row []string, _ int) string { return row[1+j] }}
	}
	path := col{"path", func(row []string, _ int) string { return row[0] }}
	knot := col{"knot_class", func(row []string, _ int) string { return class[row[0]] }}
	id := col{"id", func(_ []string, i int) string { return fmt.Sprint(1000 + i) }}
	date := col{"date", func(_ []string, i int) string { return fmt.Sprintf("2026-11-%02d", 1+i%28) }}
	var feats, reversed []col
	for j := range dim {
		feats = append(feats, feature(j))
		reversed = append(reversed, feature(dim-1-j))
	}
	layouts := map[string][]col{
		"second": append([]col{path, knot}, feats...),
		"first":  append([]col{knot, path}, feats...),
		"last":   append(append([]col{path}, feats...), knot),
		"meta":   append(append([]col{id, path, date}, feats...), knot),
		// Features in another order: a model reads them by name.
		"reversed": append(append([]col{id, path, date}, reversed...), knot),
	}
	for name, cols := range layouts {
		rows := [][]string{{}}
		for _, c := range cols {
			rows[0] = append(rows[0], c.name)
		}
		for i, r := range export[1:] {
			var out []string
			for _, c := range cols {
				out = append(out, c.value(r, i))
			}
			rows = append(rows, out)
		}
		writeCSV(t, p(name+".csv"), rows)
	}
	skip := []string{"--label-column", "knot_class", "--ignore-columns", "id,date"}

	// train: the same model from every layout, with the names recorded.
	var ref modelWeights
	for _, name := range []string{"second", "first", "last", "meta"} {
		args := append([]string{"train", "--features", p(name + ".csv"), "--labels", p(name + ".csv"), "-o", p(name + ".json")}, skip...)
		mustRun(args...)
		m := readModel(t, p(name+".json"))
		if len(m.FeatureColumns) != dim || m.FeatureColumns[0] != "Features.0" {
			t.Fatalf("%s: model records columns %v...", name, m.FeatureColumns[:min(3, len(m.FeatureColumns))])
		}
		if name == "second" {
			ref = m
			continue
		}
		if !slices.Equal(m.Model.Classes, ref.Model.Classes) || !sameWeights(m, ref) {
			t.Errorf("%s: model differs from the workshop layout's", name)
		}
	}

	// predict, with no flag at all: the model's columns are read by name,
	// the class and metadata columns are not read.
	refPred := ""
	for _, name := range []string{"second", "first", "last", "meta", "reversed"} {
		out := p(name + "-pred.csv")
		mustRun("predict", "--model", p("second.json"), "--features", p(name+".csv"), "-o", out)
		got, _ := os.ReadFile(out)
		if refPred == "" {
			refPred = string(got)
		} else if string(got) != refPred {
			t.Errorf("predict on the %s layout differs", name)
		}
	}
	// evaluate and select agree across layouts too.
	var evalRef, selRef string
	for _, name := range []string{"second", "reversed"} {
		ev := mustRun(append([]string{"evaluate", "--model", p("second.json"), "--features", p(name + ".csv"), "--labels", p(name + ".csv")}, skip...)...)
		sel := p(name + "-next.csv")
		mustRun("select", "--model", p("second.json"), "--features", p(name+".csv"), "-n", "5", "-o", sel)
		s, _ := os.ReadFile(sel)
		if evalRef == "" {
			evalRef, selRef = ev, string(s)
			continue
		}
		if ev != evalRef {
			t.Errorf("evaluate on the %s layout differs:\n%s\nvs\n%s", name, ev, evalRef)
		}
		if string(s) != selRef {
			t.Errorf("select on the %s layout differs", name)
		}
	}
	// simulate: same rounds whatever the layout.
	var simRef []byte
	for _, name := range []string{"second", "meta"} {
		out := p("sim-" + name)
		mustRun(append([]string{"simulate", "--features", p(name + ".csv"), "--labels", p(name + ".csv"), "--out", out,
			"--initial-per-class", "2", "--batch", "4", "--rounds", "2", "--strategies", "margin,random", "--repeats", "2"}, skip...)...)
		got, _ := os.ReadFile(filepath.Join(out, "rounds.csv"))
		if simRef == nil {
			simRef = got
		} else if string(got) != string(simRef) {
			t.Errorf("simulate on the %s layout differs", name)
		}
	}

	// A model trained on Parquet reads a CSV whose columns are featurize's
	// names in any order, and says the backbone was not checked.
	mustRun("train", "--features", p("f.parquet"), "--labels", filepath.Join(images, "labels.csv"), "-o", p("pq.json"))
	mustRun("predict", "--model", p("pq.json"), "--features", p("f.parquet"), "-o", p("pq-pred.csv"))
	rev := [][]string{{"path"}}
	for j := dim - 1; j >= 0; j-- {
		rev[0] = append(rev[0], fmt.Sprintf("f%d", j))
	}
	for _, r := range export[1:] {
		out := []string{r[0]}
		for j := dim - 1; j >= 0; j-- {
			out = append(out, r[1+j])
		}
		rev = append(rev, out)
	}
	writeCSV(t, p("rev.csv"), rev)
	msg := mustRun("predict", "--model", p("pq.json"), "--features", p("rev.csv"), "-o", p("rev-pred.csv"))
	if !strings.Contains(msg, "backbone") || !strings.Contains(msg, "could not be checked") {
		t.Errorf("predict on a CSV did not say the backbone was unchecked: %s", msg)
	}
	a, _ := os.ReadFile(p("pq-pred.csv"))
	b, _ := os.ReadFile(p("rev-pred.csv"))
	if string(a) != string(b) {
		t.Error("a CSV with the columns reversed predicts differently from the Parquet file")
	}

	// Errors that name the column: a missing feature column, and a column
	// of words nobody said to skip.
	var drop [][]string
	for _, r := range readCSV(t, p("second.csv")) {
		drop = append(drop, append(r[:2:2], r[3:]...)) // without Features.0
	}
	writeCSV(t, p("drop.csv"), drop)
	_, stderr, code := run(t, "predict", "--model", p("second.json"), "--features", p("drop.csv"), "-o", p("x.csv"))
	if code == 0 || !strings.Contains(stderr, "Features.0") {
		t.Errorf("missing column: exit %d, %s", code, stderr)
	}
	_, stderr, code = run(t, "train", "--features", p("meta.csv"), "--labels", p("meta.csv"), "--label-column", "knot_class", "-o", p("y.json"))
	if code == 0 || !strings.Contains(stderr, `"date"`) || !strings.Contains(stderr, "--ignore-columns date") {
		t.Errorf("unskipped metadata column: exit %d, %s", code, stderr)
	}
	_, stderr, code = run(t, "simulate", "--features", p("first.csv"), "--labels", p("first.csv"), "--out", p("sim-x"))
	if code == 0 || !strings.Contains(stderr, "knot_class") || !strings.Contains(stderr, "--label-column") {
		t.Errorf("class column not named as label: exit %d, %s", code, stderr)
	}
}

type modelWeights struct {
	FeatureColumns []string `json:"feature_columns"`
	Model          struct {
		Classes []string
		W       [][]float64
		B       []float64
	}
}

func readModel(t *testing.T, path string) modelWeights {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m modelWeights
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// sameWeights compares two models bit for bit.
func sameWeights(a, b modelWeights) bool {
	if len(a.Model.W) != len(b.Model.W) || !slices.Equal(a.FeatureColumns, b.FeatureColumns) || !slices.Equal(a.Model.B, b.Model.B) {
		return false
	}
	for k := range a.Model.W {
		if !slices.Equal(a.Model.W[k], b.Model.W[k]) {
			return false
		}
	}
	return true
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func writeCSV(t *testing.T, path string, rows [][]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.WriteAll(rows)
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}
