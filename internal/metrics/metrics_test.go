package metrics

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12 }

func TestEntropy(t *testing.T) {
	for k := 2; k <= 10; k++ {
		u := make([]float64, k)
		for i := range u {
			u[i] = 1 / float64(k)
		}
		if h := Entropy(u); !near(h, math.Log2(float64(k))) {
			t.Errorf("entropy of uniform over %d = %v, want log2(%d) = %v", k, h, k, math.Log2(float64(k)))
		}
	}
	if h := Entropy([]float64{0, 1, 0}); h != 0 {
		t.Errorf("entropy of a certain prediction = %v, want 0", h)
	}
	// -(1/2 log2 1/2 + 2 · 1/4 log2 1/4) = 1/2 + 1 bits.
	if h := Entropy([]float64{0.5, 0.25, 0.25}); !near(h, 1.5) {
		t.Errorf("entropy of (1/2, 1/4, 1/4) = %v, want 1.5 bits", h)
	}
}

func TestArgmaxTiesToLowest(t *testing.T) {
	for _, c := range []struct {
		p    []float64
		want int
	}{
		{[]float64{0.4, 0.4, 0.2}, 0},
		{[]float64{0.2, 0.4, 0.4}, 1},
		{[]float64{0.25, 0.25, 0.25, 0.25}, 0},
		{[]float64{0.1, 0.2, 0.7}, 2},
		{nil, -1},
	} {
		if got := Argmax(c.p); got != c.want {
			t.Errorf("Argmax(%v) = %d, want %d", c.p, got, c.want)
		}
	}
	if got := MaxProb([]float64{0.1, 0.6, 0.3}); got != 0.6 {
		t.Errorf("MaxProb = %v, want 0.6", got)
	}
}

func TestAccuracyAndLogLoss(t *testing.T) {
	y := []int{0, 1, 2, 1}
	probs := [][]float64{
		{0.7, 0.2, 0.1},   // right
		{0.5, 0.25, 0.25}, // wrong
		{0, 0, 1},         // right, certain
		{0.4, 0.4, 0.2},   // tie 0/1 goes to class 0: wrong
	}
	if got := Accuracy(y, probs); got != 0.5 {
		t.Errorf("accuracy = %v, want 0.5", got)
	}
	want := -(math.Log(0.7) + math.Log(0.25) + math.Log(1) + math.Log(0.4)) / 4
	if got := LogLoss(y, probs); !near(got, want) {
		t.Errorf("log loss = %v, want %v", got, want)
	}
	// A certain mistake is clipped at 1e-15: -ln(1e-15) = 15 ln 10.
	if got := LogLoss([]int{0}, [][]float64{{0, 1}}); !near(got, 15*math.Ln10) {
		t.Errorf("log loss of a certain mistake = %v, want %v", got, 15*math.Ln10)
	}
	if !math.IsNaN(Accuracy(nil, nil)) || !math.IsNaN(LogLoss(nil, nil)) {
		t.Error("accuracy and log loss of no cases should be NaN")
	}
}

// fromConfusion builds labels and one-hot-ish probabilities whose predictions
// reproduce the confusion matrix m.
func fromConfusion(m [][]int) (y []int, probs [][]float64) {
	k := len(m)
	for i, row := range m {
		for j, n := range row {
			for range n {
				p := make([]float64, k)
				for c := range p {
					p[c] = 0.1 / float64(k-1)
				}
				p[j] = 0.9
				y = append(y, i)
				probs = append(probs, p)
			}
		}
	}
	return y, probs
}

// The matrix of TestEvaluateKnownConfusion, computed by hand:
//
//	true\pred  a  b  c   support
//	a          5  1  0   6
//	b          2  3  1   6
//	c          0  0  0   0
//	predicted  7  4  1
var knownMatrix = [][]int{{5, 1, 0}, {2, 3, 1}, {0, 0, 0}}

func TestEvaluateKnownConfusion(t *testing.T) {
	classes := []string{"a", "b", "c"}
	y, probs := fromConfusion(knownMatrix)
	if err := Check(classes, y, probs); err != nil {
		t.Fatal(err)
	}
	r := Evaluate(classes, y, probs)

	if !slices.EqualFunc(r.Confusion.Matrix, knownMatrix, slices.Equal) {
		t.Fatalf("confusion = %v, want %v", r.Confusion.Matrix, knownMatrix)
	}
	if r.N != 12 || !near(r.Accuracy, 8.0/12) {
		t.Errorf("n = %d, accuracy = %v, want 12, 8/12", r.N, r.Accuracy)
	}
	want := map[string][3]float64{ // precision, recall, F1
		"a": {5.0 / 7, 5.0 / 6, 10.0 / 13}, // F1 = 2·5/(2·5 + 2 FP + 1 FN)
		"b": {3.0 / 4, 3.0 / 6, 6.0 / 10},
		"c": {0, 0, 0}, // 0/1, 0/0, 0/1: 0/0 is taken as 0
	}
	for c, w := range want {
		if !near(r.Precision[c], w[0]) || !near(r.Recall[c], w[1]) || !near(r.F1[c], w[2]) {
			t.Errorf("class %s: precision, recall, F1 = %v, %v, %v; want %v",
				c, r.Precision[c], r.Recall[c], r.F1[c], w)
		}
	}
	// Class c has no cases: like its AUC, it is left out of the macro
	// averages, and the report names it.
	if !near(r.MacroPrecision, (5.0/7+3.0/4)/2) || !near(r.MacroRecall, (5.0/6+0.5)/2) ||
		!near(r.MacroF1, (10.0/13+0.6)/2) {
		t.Errorf("macro P/R/F1 = %v %v %v", r.MacroPrecision, r.MacroRecall, r.MacroF1)
	}
	if !slices.Equal(r.Absent, []string{"c"}) {
		t.Errorf("absent classes %v, want [c]", r.Absent)
	}
	// Class c has no cases: its AUC is undefined and left out of the macro.
	if !math.IsNaN(r.AUC["c"]) {
		t.Errorf("AUC of a class without cases = %v, want NaN", r.AUC["c"])
	}
	if !near(r.MacroAUC, (r.AUC["a"]+r.AUC["b"])/2) || math.IsNaN(r.MacroAUC) {
		t.Errorf("macro AUC = %v, want mean of %v and %v", r.MacroAUC, r.AUC["a"], r.AUC["b"])
	}
	// Each case's score for "a" is 0.9 if predicted a, else 0.05. Positives
	// (true a): five at 0.9, one at 0.05; negatives (true b): two at 0.9,
	// four at 0.05. Pairs won: 5·4 + 0.5·5·2 + 0.5·1·4 = 27 of 36.
	if !near(r.AUC["a"], 27.0/36) {
		t.Errorf("AUC of a = %v, want 27/36", r.AUC["a"])
	}
}

func TestCheck(t *testing.T) {
	ok := [][]float64{{0.5, 0.5}, {1, 0}}
	for name, c := range map[string]struct {
		classes []string
		y       []int
		probs   [][]float64
	}{
		"one class":     {[]string{"a"}, []int{0}, [][]float64{{1}}},
		"duplicate":     {[]string{"a", "a"}, []int{0, 1}, ok},
		"length":        {[]string{"a", "b"}, []int{0}, ok},
		"row width":     {[]string{"a", "b"}, []int{0, 1}, [][]float64{{0.5, 0.5}, {1}}},
		"label range":   {[]string{"a", "b"}, []int{0, 2}, ok},
		"negative":      {[]string{"a", "b"}, []int{0, 1}, [][]float64{{0.5, 0.5}, {1.5, -0.5}}},
		"NaN":           {[]string{"a", "b"}, []int{0, 1}, [][]float64{{0.5, 0.5}, {math.NaN(), 1}}},
		"not summing 1": {[]string{"a", "b"}, []int{0, 1}, [][]float64{{0.5, 0.5}, {0.2, 0.2}}},
	} {
		if err := Check(c.classes, c.y, c.probs); err == nil {
			t.Errorf("%s: Check accepted it", name)
		}
	}
	if err := Check([]string{"a", "b"}, []int{0, 1}, ok); err != nil {
		t.Errorf("Check rejected valid input: %v", err)
	}
}

func TestReportJSON(t *testing.T) {
	classes := []string{"a", "b", "c"}
	y, probs := fromConfusion(knownMatrix)
	r := Evaluate(classes, y, probs)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	wantKeys := []string{"absent_classes", "accuracy", "auc", "confusion", "f1", "log_loss", "macro_auc",
		"macro_f1", "macro_precision", "macro_recall", "n", "precision", "recall"}
	if !slices.Equal(keys, wantKeys) {
		t.Fatalf("keys %v, want %v", keys, wantKeys)
	}
	if m["n"] != 12.0 || m["accuracy"] != r.Accuracy {
		t.Errorf("n, accuracy = %v, %v", m["n"], m["accuracy"])
	}
	auc := m["auc"].(map[string]any)
	if v, present := auc["c"]; !present || v != nil {
		t.Errorf(`auc["c"] = %v (present %v), want null`, v, present)
	}
	if auc["a"] != r.AUC["a"] {
		t.Errorf(`auc["a"] = %v, want %v`, auc["a"], r.AUC["a"])
	}
	for _, k := range []string{"precision", "recall", "f1"} {
		if len(m[k].(map[string]any)) != 3 {
			t.Errorf("%s has %d classes, want 3", k, len(m[k].(map[string]any)))
		}
	}
	conf := m["confusion"].(map[string]any)
	gotClasses := conf["classes"].([]any)
	if len(gotClasses) != 3 || gotClasses[0] != "a" || gotClasses[2] != "c" {
		t.Errorf("confusion.classes = %v", gotClasses)
	}
	if row := conf["matrix"].([]any)[1].([]any); row[0] != 2.0 || row[1] != 3.0 || row[2] != 1.0 {
		t.Errorf("confusion.matrix[1] = %v, want [2 3 1]", row)
	}

	// Round trip: null comes back as NaN, the rest unchanged.
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(back.AUC["c"]) || back.AUC["a"] != r.AUC["a"] || back.MacroF1 != r.MacroF1 ||
		back.N != r.N || !slices.EqualFunc(back.Confusion.Matrix, knownMatrix, slices.Equal) {
		t.Errorf("round trip changed the report: %+v", back)
	}

	// An empty report has no accuracy: null, not a marshalling error.
	b, err = json.Marshal(Evaluate(classes, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"accuracy":null`)) || !bytes.Contains(b, []byte(`"macro_auc":null`)) {
		t.Errorf("empty report JSON: %s", b)
	}
}

func TestWriteText(t *testing.T) {
	classes := []string{"a", "bee", "c\x1b[31m"}
	y, probs := fromConfusion(knownMatrix)
	r := Evaluate(classes, y, probs)
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	t.Log("\n" + out)
	if strings.Contains(out, "\x1b") {
		t.Error("an escape character in a class name reached the terminal")
	}
	for _, s := range []string{"accuracy", "0.6667", "log loss", "precision", "macro average",
		"0.7143" /* 5/7 */, "0.7692" /* 10/13 */, "c?[31m", "confusion matrix"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q", s)
		}
	}
	// Per-class table: header, rule, 3 classes, rule, macro: right-aligned,
	// so every line has the same width; class c's AUC shows as "-".
	lines := strings.Split(out, "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "class") })
	table := lines[start : start+7]
	for _, l := range table {
		if len(l) != len(table[0]) {
			t.Errorf("per-class table not aligned:\n%s", strings.Join(table, "\n"))
			break
		}
	}
	if f := strings.Fields(table[4]); f[4] != "-" || f[5] != "0" {
		t.Errorf("class c row %q: want AUC - and support 0", table[4])
	}
	// Confusion matrix: header of class names, then rows, aligned.
	start = slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "confusion") })
	conf := lines[start+1 : start+5]
	if f := strings.Fields(conf[0]); !slices.Equal(f, []string{"a", "bee", "c?[31m"}) {
		t.Errorf("confusion header %q", conf[0])
	}
	if f := strings.Fields(conf[2]); !slices.Equal(f, []string{"bee", "2", "3", "1"}) {
		t.Errorf("confusion row of bee %q", conf[2])
	}
	for _, l := range conf {
		if len(l) != len(conf[0]) {
			t.Errorf("confusion matrix not aligned:\n%s", strings.Join(conf, "\n"))
			break
		}
	}
}

func TestWriteTextNumbersWideConfusion(t *testing.T) {
	classes := make([]string, 10)
	for i := range classes {
		classes[i] = "a long class name " + string(rune('A'+i))
	}
	rng := rand.New(rand.NewPCG(7, 8))
	m := make([][]int, 10)
	for i := range m {
		m[i] = make([]int, 10)
		for j := range m[i] {
			m[i][j] = rng.IntN(5)
		}
	}
	y, probs := fromConfusion(m)
	var buf bytes.Buffer
	if err := Evaluate(classes, y, probs).WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "confusion") })
	if f := strings.Fields(lines[start+1]); !slices.Equal(f, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}) {
		t.Errorf("wide confusion header %q, want class numbers", lines[start+1])
	}
	if !strings.HasPrefix(lines[start+2], "0 a long class name A") {
		t.Errorf("first row %q, want number and name", lines[start+2])
	}
	for _, l := range lines[start+1 : start+12] {
		if len(l) > maxTextWidth {
			t.Errorf("line of %d characters: %q", len(l), l)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	// 10,000 cases, 10 classes: the Fashion-MNIST test set's size.
	rng := rand.New(rand.NewPCG(9, 10))
	classes := make([]string, 10)
	for i := range classes {
		classes[i] = string(rune('a' + i))
	}
	y := make([]int, 10_000)
	probs := make([][]float64, len(y))
	for i := range y {
		y[i] = rng.IntN(10)
		p := make([]float64, 10)
		s := 0.0
		for j := range p {
			p[j] = rng.ExpFloat64()
			if j == y[i] {
				p[j] += 1
			}
			s += p[j]
		}
		for j := range p {
			p[j] /= s
		}
		probs[i] = p
	}
	b.ResetTimer()
	for b.Loop() {
		Evaluate(classes, y, probs)
	}
}

// Perfect predictions score a macro F1 of 1 when a class of the model has no
// test cases (issue 14: it used to be 0.90 with one class of ten absent),
// and the text report says which class was left out.
func TestMacroOverPresentClasses(t *testing.T) {
	classes := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	var y []int
	var probs [][]float64
	for c := 0; c < 9; c++ { // no case of "j"
		for range 3 {
			p := make([]float64, 10)
			p[c] = 1
			y, probs = append(y, c), append(probs, p)
		}
	}
	r := Evaluate(classes, y, probs)
	if r.MacroPrecision != 1 || r.MacroRecall != 1 || r.MacroF1 != 1 {
		t.Errorf("macro P/R/F1 = %v %v %v, want 1", r.MacroPrecision, r.MacroRecall, r.MacroF1)
	}
	var b strings.Builder
	r.WriteText(&b)
	if !strings.Contains(b.String(), "over the 9 classes with cases; no cases of: j") {
		t.Errorf("text report does not name the absent class:\n%s", b.String())
	}
}
