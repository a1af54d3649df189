package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/winnowml/winnow/internal/metrics"
)

// byPath indexes a predictions CSV by its path column: featurize writes rows
// in the order its workers finish, so two runs agree on rows, not on order.
func byPath(t *testing.T, rows [][]string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, r := range rows[1:] {
		if _, dup := out[r[0]]; dup {
			t.Fatalf("%s twice", r[0])
		}
		out[r[0]] = r
	}
	return out
}

// classify on the bundled images (photos, Fashion-MNIST, every format, the
// hostile files) writes exactly the rows featurize + predict write, byte for
// byte, skips the same bad files, and its probabilities are those of the
// exported graph run by ONNX Runtime.
func TestClassifyEqualsFeaturizePredictAndExport(t *testing.T) {
	w := t.TempDir()
	p := func(name string) string { return filepath.Join(w, name) }
	mustRun := func(args ...string) string {
		t.Helper()
		stdout, stderr := runOK(t, args...)
		return stdout + stderr
	}
	fm := repo("testdata/images/fmnist")
	images := repo("testdata/images")
	const bb = "mobilenet-v2-b13"
	mustRun("featurize", fm, "-o", p("train.parquet"), "--model", bb, "-q")
	mustRun("train", "--features", p("train.parquet"), "--labels", filepath.Join(fm, "labels.csv"), "-o", p("model.json"))

	mustRun("featurize", images, "-o", p("all.parquet"), "--model", bb, "-q", "--errors", p("f-errors.jsonl"))
	mustRun("predict", "--model", p("model.json"), "--features", p("all.parquet"), "-o", p("predict.csv"))
	out := mustRun("classify", "--model", p("model.json"), images, "-o", p("classify.csv"), "-q", "--errors", p("c-errors.jsonl"))
	if _, err := os.Stat(p("classify.csv.features.parquet")); err != nil {
		t.Errorf("no feature cache beside the output: %v\n%s", err, out)
	}
	want, got := readCSV(t, p("predict.csv")), readCSV(t, p("classify.csv"))
	if !slices.Equal(want[0], got[0]) {
		t.Fatalf("columns %q, predict's %q", got[0], want[0])
	}
	wm, gm := byPath(t, want), byPath(t, got)
	if len(gm) != len(wm) || len(wm) < 100 {
		t.Fatalf("classify wrote %d rows, predict %d", len(gm), len(wm))
	}
	for path, r := range wm {
		if !slices.Equal(gm[path], r) {
			t.Errorf("%s: classify %q, featurize+predict %q", path, gm[path], r)
		}
	}
	skipped := func(file string) []string {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var rec struct{ Path string }
			if json.Unmarshal([]byte(line), &rec) != nil {
				t.Fatalf("%s: %q", file, line)
			}
			paths = append(paths, rec.Path)
		}
		slices.Sort(paths)
		return paths
	}
	if a, b := skipped(p("f-errors.jsonl")), skipped(p("c-errors.jsonl")); !slices.Equal(a, b) || len(a) == 0 {
		t.Errorf("classify skipped %q, featurize %q", b, a)
	}

	// The exported graph, run by ONNX Runtime through featurize, gives
	// classify's probabilities.
	mustRun("export", "--model", p("model.json"), "-o", p("classifier.onnx"))
	mustRun("featurize", images, "-o", p("probs.parquet"), "--model", p("classifier.onnx"), "--output-name", "probs", "-q", "--errors", p("g-errors.jsonl"))
	graph := rowsOf(t, p("probs.parquet"))
	k := 0
	for _, h := range got[0] {
		if strings.HasPrefix(h, "p_") {
			k++
		}
	}
	worst := 0.0
	for path, r := range gm {
		g, ok := graph[path]
		if !ok || len(g) != k {
			t.Fatalf("%s: %d probabilities from the graph, want %d", path, len(g), k)
		}
		for c := range k {
			v, _ := strconv.ParseFloat(r[2+c], 64)
			worst = max(worst, math.Abs(v-float64(g[c])))
		}
	}
	// classify prints 6 significant digits: as fine as its output allows.
	if worst >= 1e-5 {
		t.Errorf("max |p_graph - p_classify| = %.3g, want < 1e-5", worst)
	}
	t.Logf("%s: max |p_graph - p_classify| = %.3g over %d images x %d classes", bb, worst, len(gm), k)

	// A model whose backbone file is another one is refused, as is one
	// trained on CSV features.
	if _, stderr, code := run(t, "classify", "--model", p("model.json"), fm, "-o", p("x.csv"), "--backbone", p("classifier.onnx")); code == 0 || !strings.Contains(stderr, "sha256") {
		t.Errorf("another backbone file: exit %d, %s", code, stderr)
	}
	mustRun("features", "export", p("train.parquet"), "-o", p("train.csv"))
	mustRun("train", "--features", p("train.csv"), "--labels", filepath.Join(fm, "labels.csv"), "-o", p("csv-model.json"))
	if _, stderr, code := run(t, "classify", "--model", p("csv-model.json"), fm, "-o", p("y.csv")); code == 0 || !strings.Contains(stderr, "CSV") {
		t.Errorf("a CSV-trained model: exit %d, %s", code, stderr)
	}
	for _, f := range []string{"x.csv", "y.csv"} {
		if _, err := os.Stat(p(f)); err == nil {
			t.Errorf("a refused classify left %s", f)
		}
	}
}

// splitLabels writes the even and the odd rows of a labels CSV to two files.
func splitLabels(t *testing.T, labels, even, odd string) {
	t.Helper()
	rows := readCSV(t, labels)
	a, b := [][]string{rows[0]}, [][]string{rows[0]}
	for i, r := range rows[1:] {
		if i%2 == 0 {
			a = append(a, r)
		} else {
			b = append(b, r)
		}
	}
	writeCSV(t, even, a)
	writeCSV(t, odd, b)
}

// Triage: evaluate's JSON curve is metrics.Coverage of the same rows (read
// back from predict), its cut is the one ThresholdFor finds, --calibrate
// stores it, and classify --target-accuracy marks exactly the rows at or
// above it as settled. The graph exported from the same model, run by
// onnxruntime-node through the README's example, gives classify's
// probabilities.
func TestTriageCalibrateAndNodeExample(t *testing.T) {
	w := t.TempDir()
	p := func(name string) string { return filepath.Join(w, name) }
	mustRun := func(args ...string) string {
		t.Helper()
		stdout, stderr := runOK(t, args...)
		return stdout + stderr
	}
	fm := repo("testdata/images/fmnist")
	// 28x28 pixels: the images are at the input size, so the node example
	// feeds them exactly as winnow does. Trained on 50 images, the model is
	// right about 60% of the time, and only its most confident share
	// reaches 0.75: a cut that separates.
	const bb = "pixels:28x28:gray"
	splitLabels(t, filepath.Join(fm, "labels.csv"), p("train.csv"), p("test.csv"))
	mustRun("featurize", fm, "-o", p("f.parquet"), "--model", bb, "-q")
	mustRun("train", "--features", p("f.parquet"), "--labels", p("train.csv"), "-o", p("model.json"))
	mustRun("predict", "--model", p("model.json"), "--features", p("f.parquet"), "-o", p("pred.csv"))
	text := mustRun("evaluate", "--model", p("model.json"), "--features", p("f.parquet"), "--labels", p("test.csv"),
		"--json", p("ev.json"), "--target-accuracy", "0.75", "--calibrate")

	// The same rows by hand: predict's probabilities (6 digits) and the labels.
	pred := byPath(t, readCSV(t, p("pred.csv")))
	head := readCSV(t, p("pred.csv"))[0]
	var classes []string
	for _, h := range head {
		if c, ok := strings.CutPrefix(h, "p_"); ok {
			classes = append(classes, c)
		}
	}
	var y []int
	var probs [][]float64
	for _, r := range readCSV(t, p("test.csv"))[1:] {
		row := pred[r[0]]
		pr := make([]float64, len(classes))
		for k := range classes {
			pr[k], _ = strconv.ParseFloat(row[2+k], 64)
		}
		y, probs = append(y, slices.Index(classes, r[1])), append(probs, pr)
	}
	want := metrics.Coverage(y, probs)
	b, err := os.ReadFile(p("ev.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		N      int
		Triage struct {
			TargetAccuracy float64 `json:"target_accuracy"`
			Threshold      *float64
			Settled        int
			Curve          []metrics.CoveragePoint
		}
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.N != len(y) || len(ev.Triage.Curve) != len(want) || len(want) < 5 {
		t.Fatalf("evaluate: %d rows, curve of %d points; by hand %d rows, %d points", ev.N, len(ev.Triage.Curve), len(y), len(want))
	}
	for i, g := range ev.Triage.Curve {
		h := want[i]
		if g.N != h.N || g.Accuracy != h.Accuracy || math.Abs(g.Threshold-h.Threshold) > 1e-5 {
			t.Errorf("curve point %d: %+v, by hand %+v", i, g, h)
		}
	}
	cut, ok := metrics.ThresholdFor(want, 0.75)
	if !ok || ev.Triage.Threshold == nil || ev.Triage.Settled != cut.N || math.Abs(*ev.Triage.Threshold-cut.Threshold) > 1e-5 {
		t.Fatalf("triage %+v, by hand %+v (found %v)", ev.Triage, cut, ok)
	}
	if !strings.Contains(text, fmt.Sprintf("settles %d of %d images", cut.N, len(y))) {
		t.Errorf("the text output does not give the cut:\n%s", text)
	}

	// classify uses the stored cut; another target without labels is refused.
	out := mustRun("classify", "--model", p("model.json"), fm, "-o", p("c.csv"), "-q", "--target-accuracy", "0.75")
	rows := readCSV(t, p("c.csv"))
	if rows[0][len(rows[0])-1] != "status" {
		t.Fatalf("no status column: %q", rows[0])
	}
	settled := 0
	for _, r := range rows[1:] {
		mp, _ := strconv.ParseFloat(r[len(r)-3-boolInt(slices.Contains(rows[0], "novelty"))], 64)
		st := r[len(r)-1]
		if st == "settled" {
			settled++
		}
		// 6 digits: a row within rounding of the cut may go either way.
		if math.Abs(mp-*ev.Triage.Threshold) > 1e-5 && (st == "settled") != (mp >= *ev.Triage.Threshold) {
			t.Errorf("%s: max_prob %g, cut %g, status %s", r[0], mp, *ev.Triage.Threshold, st)
		}
	}
	if m := regexp.MustCompile(`settled (\d+) of (\d+) images`).FindStringSubmatch(out); m == nil || m[1] != strconv.Itoa(settled) || m[2] != strconv.Itoa(len(rows)-1) {
		t.Errorf("summary %q, the CSV has %d settled of %d", out, settled, len(rows)-1)
	}
	if settled == 0 || settled == len(rows)-1 {
		t.Errorf("%d of %d settled: the cut separates nothing", settled, len(rows)-1)
	}
	if _, stderr, code := run(t, "classify", "--model", p("model.json"), fm, "-o", p("d.csv"), "--target-accuracy", "0.99"); code != 2 || !strings.Contains(stderr, "0.75") {
		t.Errorf("a target the model was not calibrated for: exit %d, %s", code, stderr)
	}

	// --labels measures the same cut on the labelled images of SOURCE.
	out = mustRun("classify", "--model", p("model.json"), fm, "-o", p("e.csv"), "-q", "--target-accuracy", "0.75", "--labels", p("test.csv"))
	if !strings.Contains(out, fmt.Sprintf("on the %d labelled images, confidence >= %.6g keeps %d", len(y), cut.Threshold, cut.N)) {
		t.Errorf("classify --labels does not find evaluate's cut (%.6g, %d rows):\n%s", cut.Threshold, cut.N, out)
	}
	if m := regexp.MustCompile(`settled (\d+) of`).FindStringSubmatch(out); m == nil || m[1] != strconv.Itoa(settled) {
		t.Errorf("classify --labels settled %v, the stored cut %d", m, settled)
	}

	// The README's onnxruntime-node example.
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the onnxruntime-node example is not run")
	}
	dir := repo("tools/onnx-node-example")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "onnxruntime-node")); err != nil {
		ci := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
		ci.Dir = dir
		if b, err := ci.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, b)
		}
	}
	mustRun("export", "--model", p("model.json"), "-o", p("classifier.onnx"))
	crows := byPath(t, rows)
	var paths []string
	for path := range crows {
		paths = append(paths, path)
	}
	slices.Sort(paths)
	paths = paths[:12]
	args := []string{filepath.Join(dir, "classify.js"), p("classifier.onnx")}
	for _, path := range paths {
		args = append(args, filepath.Join(fm, path))
	}
	cmd := exec.Command(node, args...)
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node classify.js: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(stdout)), "\n")
	if len(lines) != len(paths) {
		t.Fatalf("%d lines from node for %d images:\n%s", len(lines), len(paths), stdout)
	}
	worst := 0.0
	for i, line := range lines {
		var res struct {
			Predicted string
			Probs     map[string]float64
		}
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		r := crows[paths[i]]
		if res.Predicted != r[1] {
			t.Errorf("%s: node says %s, classify %s", paths[i], res.Predicted, r[1])
		}
		for k, c := range classes {
			v, _ := strconv.ParseFloat(r[2+k], 64)
			worst = max(worst, math.Abs(v-res.Probs[c]))
		}
	}
	if worst >= 1e-5 {
		t.Errorf("max |p_node - p_classify| = %.3g, want < 1e-5", worst)
	}
	t.Logf("onnxruntime-node: max |p_node - p_classify| = %.3g over %d images x %d classes", worst, len(paths), len(classes))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// classify killed with SIGKILL at random moments, then run again until it
// finishes, writes the predictions an uninterrupted run writes.
func TestClassifyKillAndResume(t *testing.T) {
	const n = 1200
	src := fmnistFolder(t, n)
	w := t.TempDir()
	p := func(name string) string { return filepath.Join(w, name) }
	var labels [][]string
	labels = append(labels, []string{"path", "label"})
	filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(src, path)
			labels = append(labels, []string{filepath.ToSlash(rel), filepath.Base(filepath.Dir(path))})
		}
		return nil
	})
	writeCSV(t, p("labels.csv"), labels[:301])
	for _, args := range [][]string{
		{"featurize", src, "-o", p("f.parquet"), "--model", tiny, "-q"},
		{"train", "--features", p("f.parquet"), "--labels", p("labels.csv"), "-o", p("model.json")},
		{"classify", "--model", p("model.json"), "--backbone", tiny, src, "-o", p("ref.csv"), "-q"},
	} {
		if _, stderr, code := run(t, args...); code != 0 {
			t.Fatalf("%s: exit %d\n%s", args[0], code, stderr)
		}
	}
	out := p("killed.csv")
	chunks := func() int {
		files, _ := filepath.Glob(filepath.Join(out+".features.parquet.parts", "chunk-*.parquet"))
		return len(files)
	}
	rng := rand.New(rand.NewSource(2))
	kills := 0
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(winnow, "classify", "--model", p("model.json"), "--backbone", tiny, src, "-o", out, "-q",
			"--checkpoint-rows", "50", "--batch", "8", "--threads", "1", "--workers", "1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if attempt >= 6 {
			if err := <-done; err != nil {
				t.Fatalf("final run: %v", err)
			}
			break
		}
		before := chunks()
		deadline := time.After(time.Minute)
		finished := false
	wait:
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("run %d: %v", attempt, err)
				}
				finished = true
				break wait
			case <-deadline:
				t.Fatal("no progress within a minute")
			case <-time.After(5 * time.Millisecond):
				if chunks() > before {
					time.Sleep(time.Duration(rng.Intn(40)) * time.Millisecond)
					cmd.Process.Signal(syscall.SIGKILL)
					<-done
					kills++
					break wait
				}
			}
		}
		if finished {
			break
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("a killed run left %s", out)
		}
	}
	if kills == 0 {
		t.Fatal("the run was never killed")
	}
	want, got := byPath(t, readCSV(t, p("ref.csv"))), byPath(t, readCSV(t, out))
	if len(got) != n || len(want) != n {
		t.Fatalf("after %d kills: %d rows, the uninterrupted run %d, want %d", kills, len(got), len(want), n)
	}
	for path, r := range want {
		if !slices.Equal(got[path], r) {
			t.Fatalf("%s: %q after resume, %q uninterrupted", path, got[path], r)
		}
	}
	t.Logf("%d kills", kills)
}

// classify's outputs (-o, --cache, --errors) never land on an input or an
// image of SOURCE, and Ctrl-C stops it with 130, resumable, -o unwritten.
func TestClassifyRefusesAndStops(t *testing.T) {
	w := t.TempDir()
	p := func(name string) string { return filepath.Join(w, name) }
	fm := repo("testdata/images/fmnist")
	for _, args := range [][]string{
		{"featurize", fm, "-o", p("f.parquet"), "--model", "pixels:28x28:gray", "-q"},
		{"train", "--features", p("f.parquet"), "--labels", filepath.Join(fm, "labels.csv"), "-o", p("model.json")},
	} {
		if _, stderr, code := run(t, args...); code != 0 {
			t.Fatalf("%s: exit %d\n%s", args[0], code, stderr)
		}
	}
	os.WriteFile(p("list.txt"), []byte(filepath.Join(fm, "bag/00018.png")+"\n"), 0o644)
	os.WriteFile(p("lab.csv"), []byte("path,label\n"), 0o644)
	before := snapshotFiles(w, fm)
	for _, c := range []struct {
		name  string
		args  []string
		flags []string
	}{
		{"-o model", []string{"-o", p("model.json")}, []string{"-o", "--model"}},
		{"--cache model", []string{"-o", p("x.csv"), "--cache", p("model.json")}, []string{"--cache", "--model"}},
		{"-o labels", []string{"-o", p("lab.csv"), "--labels", p("lab.csv"), "--target-accuracy", "0.9"}, []string{"-o", "--labels"}},
		{"--errors = -o", []string{"-o", p("x.csv"), "--errors", p("x.csv")}, []string{"-o", "--errors"}},
		{"-o an image", []string{"-o", filepath.Join(fm, "bag/00018.png")}, []string{"-o", "SOURCE"}},
	} {
		args := append([]string{"classify", "--model", p("model.json"), p("list.txt")}, c.args...)
		_, stderr, code := run(t, args...)
		if code != 2 || !strings.Contains(stderr, "refusing to overwrite") {
			t.Errorf("%s: exit %d: %s", c.name, code, stderr)
		}
		for _, f := range c.flags {
			if !strings.Contains(stderr, f+" ") {
				t.Errorf("%s: the message does not name %s: %s", c.name, f, stderr)
			}
		}
		assertUnchanged(t, before, w, fm)
	}

	src := fmnistFolder(t, 1500)
	out := p("stopped.csv")
	cmd := exec.Command(winnow, "classify", "--model", p("model.json"), src, "-o", out, "-q",
		"--checkpoint-rows", "50", "--batch", "8", "--threads", "1", "--workers", "1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(time.Minute)
	for chunks := 0; chunks == 0; {
		select {
		case <-done:
			t.Fatalf("finished before the signal\n%s", stderr.String())
		case <-deadline:
			t.Fatal("no chunk within a minute")
		case <-time.After(10 * time.Millisecond):
			files, _ := filepath.Glob(filepath.Join(out+".features.parquet.parts", "chunk-*.parquet"))
			chunks = len(files)
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 10 s after SIGINT\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(stderr.String(), "run the same command again to resume") {
		t.Errorf("exit %d after SIGINT: %s", code, stderr.String())
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s written by an interrupted run", out)
	}
}
