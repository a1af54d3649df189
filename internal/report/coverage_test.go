package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/winnowml/winnow/internal/metrics"
)

// The triage table reads the same cuts metrics.ThresholdFor finds: five
// cases, most confident first right, right, wrong, right, wrong.
func TestCoverageSectionTable(t *testing.T) {
	classes := []string{"a", "b"}
	probs := [][]float64{{0.99, 0.01}, {0.95, 0.05}, {0.1, 0.9}, {0.8, 0.2}, {0.4, 0.6}}
	y := []int{0, 0, 0, 0, 0}
	var buf bytes.Buffer
	if err := EvaluationHTML(&buf, "t", metrics.Evaluate(classes, y, probs), classes, y, probs); err != nil {
		t.Fatal(err)
	}
	doc := buf.String()
	// By hand: cuts 0.99 (1 of 1 right), 0.95 (2/2), 0.9 (2/3), 0.8 (3/4),
	// 0.6 (3/5). Every target is reached by 0.95 with 2 cases (40%), the
	// lowest cut that is still all right; 0.9 falls to 2/3.
	for _, want := range []string{
		"<td>0.90</td><td>0.95</td><td>2</td><td>40.0%</td><td>1.000</td>",
		"<td>0.95</td><td>0.95</td><td>2</td><td>40.0%</td><td>1.000</td>",
		"<td>0.99</td><td>0.95</td><td>2</td><td>40.0%</td><td>1.000</td>",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the triage table lacks %s", want)
		}
	}
	// A target nothing reaches says so.
	y = []int{1, 1, 0, 1, 1}
	buf.Reset()
	if err := EvaluationHTML(&buf, "t", metrics.Evaluate(classes, y, probs), classes, y, probs); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "not reached"); n != len(TriageTargets) {
		t.Errorf("%d targets marked not reached, want %d (the most confident case is wrong)", n, len(TriageTargets))
	}
}
