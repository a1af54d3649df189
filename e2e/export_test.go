package e2e

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The exported graph, run by ONNX Runtime (through featurize, which runs any
// ONNX file), gives the probabilities winnow predict gives from the
// backbone's features, and the same feature vectors.
func TestExportedGraphMatchesPredict(t *testing.T) {
	w := t.TempDir()
	p := func(name string) string { return filepath.Join(w, name) }
	images := repo("testdata/images/fmnist")
	mustRun := func(args ...string) string {
		t.Helper()
		stdout, stderr := runOK(t, args...)
		return stdout + stderr
	}
	for _, bb := range []string{"mobilenet-v2-b13", "pixels:16x16:gray"} {
		t.Run(bb, func(t *testing.T) {
			name := strings.NewReplacer(":", "-").Replace(bb)
			feats, model, graph := p(name+".parquet"), p(name+".json"), p(name+"-classifier.onnx")
			mustRun("featurize", images, "-o", feats, "--model", bb, "-q")
			mustRun("train", "--features", feats, "--labels", filepath.Join(images, "labels.csv"), "-o", model)
			mustRun("predict", "--model", model, "--features", feats, "-o", p(name+"-pred.csv"))
			mustRun("export", "--model", model, "-o", graph)

			// The graph's probabilities, as featurize computes any output.
			mustRun("featurize", images, "-o", p(name+"-probs.parquet"), "--model", graph, "--output-name", "probs", "-q")
			mustRun("features", "export", p(name+"-probs.parquet"), "-o", p(name+"-probs.csv"))
			want := readCSV(t, p(name+"-pred.csv"))
			got := readCSV(t, p(name+"-probs.csv"))
			var probCol []int // predict's p_<class> columns
			for j, h := range want[0] {
				if strings.HasPrefix(h, "p_") {
					probCol = append(probCol, j)
				}
			}
			k := len(probCol)
			byPath := map[string][]string{}
			for _, r := range got[1:] {
				byPath[r[0]] = r[1:]
			}
			worst := 0.0
			for _, r := range want[1:] {
				g, ok := byPath[r[0]]
				if !ok || len(g) != k {
					t.Fatalf("%s: %d probabilities from the exported graph, want %d", r[0], len(g), k)
				}
				for c, j := range probCol {
					a, _ := strconv.ParseFloat(r[j], 64)
					b, _ := strconv.ParseFloat(g[c], 64)
					worst = max(worst, math.Abs(a-b))
				}
			}
			// predict prints 6 significant digits: the comparison is as
			// fine as its output allows.
			if worst >= 1e-5 {
				t.Errorf("max |p_export - p_predict| = %.3g, want < 1e-5", worst)
			}
			t.Logf("%s: max |p_export - p_predict| = %.3g over %d images x %d classes", bb, worst, len(want)-1, k)

			// Its feature output is the backbone's.
			mustRun("featurize", images, "-o", p(name+"-f2.parquet"), "--model", graph, "-q")
			a, b := rowsOf(t, feats), rowsOf(t, p(name+"-f2.parquet"))
			for path, va := range a {
				vb := b[path]
				for j := range va {
					if d := math.Abs(float64(va[j] - vb[j])); d > 1e-5*max(1, math.Abs(float64(va[j]))) {
						t.Fatalf("%s feature %d: %g from the backbone, %g from the exported graph", path, j, va[j], vb[j])
					}
				}
			}

			// Its novelty output is predict's novelty column (4 digits),
			// and the sidecar carries the model's cut.
			mustRun("featurize", images, "-o", p(name+"-nov.parquet"), "--model", graph, "--output-name", "novelty", "-q")
			nov := rowsOf(t, p(name+"-nov.parquet"))
			col := slices.Index(want[0], "novelty")
			worstNov := 0.0
			for _, r := range want[1:] {
				v, _ := strconv.ParseFloat(r[col], 64)
				g := nov[r[0]]
				if len(g) != 1 {
					t.Fatalf("%s: novelty output of %d values", r[0], len(g))
				}
				worstNov = max(worstNov, math.Abs(float64(g[0])-v)/v)
			}
			// predict prints 4 digits; the graph computes in float32, where
			// a labelled image's distance to itself, 0, comes out as the
			// root of rounding noise in ||z||^2 + ||r||^2 - 2 z.r (these
			// images are the training images).
			if worstNov > 5e-3 {
				t.Errorf("max relative |novelty_export - novelty_predict| = %.3g, want < 5e-3", worstNov)
			}
			var side struct {
				Novelty struct {
					Output string
					Cut    float64
				}
			}
			var mf struct {
				Novelty struct{ Cut float64 }
			}
			readJSON(t, graph+".json", &side)
			readJSON(t, model, &mf)
			if side.Novelty.Output != "novelty" || side.Novelty.Cut != mf.Novelty.Cut || mf.Novelty.Cut <= 0 {
				t.Errorf("sidecar novelty %+v, the model's cut %g", side.Novelty, mf.Novelty.Cut)
			}
			t.Logf("%s: max relative novelty difference %.3g over %d images", bb, worstNov, len(want)-1)
		})
	}
	// A model trained on a CSV has no backbone to export with.
	mustRun("features", "export", p("pixels-16x16-gray.parquet"), "-o", p("f.csv"))
	mustRun("train", "--features", p("f.csv"), "--labels", filepath.Join(images, "labels.csv"), "-o", p("csv.json"))
	if _, stderr, code := run(t, "export", "--model", p("csv.json"), "-o", p("x.onnx")); code == 0 || !strings.Contains(stderr, "CSV") {
		t.Errorf("export of a CSV-trained model: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(p("x.onnx")); err == nil {
		t.Error("a refused export left a file")
	}
	// Another backbone file than the training one is refused.
	if _, stderr, code := run(t, "export", "--model", p("pixels-16x16-gray.json"), "--backbone", p("mobilenet-v2-b13-classifier.onnx"), "-o", p("y.onnx")); code == 0 || !strings.Contains(stderr, "sha256") {
		t.Errorf("export with the wrong backbone file: exit %d, %s", code, stderr)
	}
}
