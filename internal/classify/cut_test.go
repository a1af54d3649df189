package classify

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/winnowml/winnow/internal/metrics"
)

// Six rows, two classes. Most confident first: 0.99 a right, 0.95 b right,
// 0.9 a wrong, 0.8 b right, 0.7 a right, 0.6 b wrong. By hand, the
// overall curve's accuracies are 1, 1, 2/3, 3/4, 4/5, 4/6, so target 0.75
// is reached lowest at 0.7 (5 rows); class a's predictions (0.99 right,
// 0.9 wrong, 0.7 right) reach 0.9 only at 0.99; class b's (0.95, 0.8
// right, 0.6 wrong) reach 0.9 at 0.8.
var (
	cutClasses = []string{"a", "b"}
	cutY       = []int{0, 1, 1, 1, 0, 0}
	cutProbs   = [][]float64{{0.99, 0.01}, {0.05, 0.95}, {0.9, 0.1}, {0.2, 0.8}, {0.7, 0.3}, {0.4, 0.6}}
)

func TestMeasureByHand(t *testing.T) {
	cal, at, ok := Measure(cutClasses, cutY, cutProbs, 0.75, map[string]float64{"a": 0.9, "b": 0.9})
	if !ok || *cal.Threshold != 0.7 || at.N != 5 || at.Accuracy != 0.8 {
		t.Fatalf("overall cut %v at %+v, want 0.7 with 5 rows at 0.8", cal.Threshold, at)
	}
	if *cal.ClassThresholds["a"] != 0.99 || *cal.ClassThresholds["b"] != 0.8 {
		t.Errorf("class cuts a %v b %v, want 0.99 and 0.8", *cal.ClassThresholds["a"], *cal.ClassThresholds["b"])
	}
	c := FromCalibration(cal, cutClasses)
	var got []string
	for _, p := range cutProbs {
		k := metrics.Argmax(p)
		got = append(got, c.Status(k, p[k]))
	}
	want := "settled settled uncertain settled uncertain uncertain"
	if strings.Join(got, " ") != want {
		t.Errorf("statuses %q, want %q", strings.Join(got, " "), want)
	}
	// Without class targets, the overall cut alone: 0.7 settles rows 1-5.
	cal, _, _ = Measure(cutClasses, cutY, cutProbs, 0.75, nil)
	c = FromCalibration(cal, cutClasses)
	if n := countSettled(c); n != 5 {
		t.Errorf("%d settled by the overall cut, want 5", n)
	}
	// A target nothing reaches settles nothing.
	cal, _, ok = Measure(cutClasses, []int{1, 0, 0, 0, 1, 1}, cutProbs, 0.5, map[string]float64{"a": 1})
	if ok || cal.Threshold != nil || cal.ClassThresholds["a"] != nil {
		t.Fatalf("all-wrong-at-the-top: %+v ok=%v", cal, ok)
	}
	if n := countSettled(FromCalibration(cal, cutClasses)); n != 0 {
		t.Errorf("%d settled by an unreachable target", n)
	}
}

func countSettled(c *Cut) int {
	n := 0
	for _, p := range cutProbs {
		k := metrics.Argmax(p)
		if c.Settled(k, p[k]) {
			n++
		}
	}
	return n
}

func TestParseClassTargets(t *testing.T) {
	got, err := ParseClassTargets([]string{"a=0.99", "b=1"}, cutClasses)
	if err != nil || got["a"] != 0.99 || got["b"] != 1 {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range [][]string{{"c=0.9"}, {"a"}, {"a=0"}, {"a=1.5"}, {"a=NaN"}, {"a=0.9", "a=0.8"}} {
		if _, err := ParseClassTargets(bad, cutClasses); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// evaluate's JSON keeps the report's members and adds the curve of the
// same rows.
func TestReportJSONAddsTheCurve(t *testing.T) {
	r := metrics.Evaluate(cutClasses, cutY, cutProbs)
	tri := NewTriage(cutClasses, cutY, cutProbs, 0.75, nil)
	b, err := ReportJSON(r, tri)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		N        int
		Accuracy float64
		Triage   struct {
			Threshold float64
			Settled   int
			Curve     []metrics.CoveragePoint
		}
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	want := metrics.Coverage(cutY, cutProbs)
	if v.N != 6 || math.Abs(v.Accuracy-4.0/6) > 1e-12 || v.Triage.Threshold != 0.7 || v.Triage.Settled != 5 || len(v.Triage.Curve) != len(want) {
		t.Fatalf("%s", b)
	}
	for i := range want {
		if v.Triage.Curve[i] != want[i] {
			t.Errorf("point %d: %+v, want %+v", i, v.Triage.Curve[i], want[i])
		}
	}
	var text bytes.Buffer
	tri.WriteText(&text)
	if !strings.Contains(text.String(), "settles 5 of 6 images") {
		t.Errorf("text: %s", text.String())
	}
}
