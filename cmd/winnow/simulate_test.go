package main

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/metrics"
	"github.com/winnowml/winnow/internal/sim"
)

// The text table's columns are explained under it, "to 95%" above all: it
// is the median over draws of the labels asked at the first round whose
// accuracy reached 95% of that draw's full model, not "95% accuracy".
func TestSimSummaryExplainsItsColumns(t *testing.T) {
	curve := func(name string) sim.Curve {
		return sim.Curve{Strategy: name, NAsked: []float64{12, 20, 28}, NTrain: []float64{12, 19, 27}, Replays: 5,
			Mean: map[string][]float64{"accuracy": {0.6, 0.7, 0.8}}}
	}
	res := &sim.Result{
		Curves:         []sim.Curve{curve("entropy"), curve("random")},
		Comparisons:    map[string]sim.Comparison{"entropy": {Final: map[string]sim.Paired{"accuracy": {N: 5, MeanDiff: 0.03, P: 0.0625, Exact: true}}, AULC: map[string]sim.Paired{"accuracy": {N: 5, MeanDiff: 0.02, P: 0.125, Exact: true}}}},
		LabelsToTarget: map[string]map[string]sim.Target{"entropy": {"95%": {Median: 28}, "99%": {Median: math.Inf(1)}}, "random": {"95%": {Median: math.Inf(1)}, "99%": {Median: math.Inf(1)}}},
		Full:           sim.Point{NAsked: 90, NTrain: 88, Report: metrics.Report{Accuracy: 0.84}},
		PairedTest:     "two-sided sign-flip permutation test over the draws, exact",
	}
	var out bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetOut(&out)
	printSimSummary(cmd, res)
	text := out.String()
	lines := strings.Split(text, "\n")
	if !strings.Contains(lines[0], "to 95%") || !strings.Contains(lines[1], "28") {
		t.Fatalf("table:\n%s", text)
	}
	for _, want := range []string{
		"to 95%, to 99%: median over the draws of the labels asked at the first round whose accuracy reached 95% (99%) of the full model's accuracy on the same draw",
		`"-": most draws did not reach it`,
		"vs rand, p: mean paired difference in final accuracy, strategy minus random",
		"area vs, p:",
		"full model: trained on every usable label outside the test set",
		"p: two-sided sign-flip",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in\n%s", want, text)
		}
	}
}
