package report

import (
	"bytes"
	"fmt"
	"html/template"

	"gonum.org/v1/plot"

	"github.com/winnowml/winnow/internal/metrics"
)

// TriageTargets are the accuracies the report's triage table reads the
// curve at: the usual bars a team sets for leaving images unchecked.
var TriageTargets = []float64{0.90, 0.95, 0.98, 0.99}

// CoveragePlot draws the accuracy-vs-coverage curve: for each share of the
// test cases, taken most confident first, the accuracy of that share. It
// is read at every half percent: the full curve has a point per distinct
// confidence, far more than a plot can show.
func CoveragePlot(curve []metrics.CoveragePoint) (*plot.Plot, error) {
	if len(curve) == 0 {
		return nil, fmt.Errorf("report: coverage curve without points")
	}
	at := make([]float64, 200)
	for i := range at {
		at[i] = float64(i+1) / float64(len(at))
	}
	s := Series{Name: "accuracy of the most confident"}
	last := -1
	for _, p := range metrics.CoverageAt(curve, at) {
		if p.N == last { // ties: several shares read the same cut
			continue
		}
		last = p.N
		s.X, s.Y = append(s.X, 100*p.Coverage), append(s.Y, p.Accuracy)
	}
	p, err := LineChart("", "coverage: % of cases, most confident first", "accuracy", []Series{s})
	if err != nil {
		return nil, err
	}
	p.Legend.Top = true
	p.X.Min, p.X.Max = 0, 100
	return p, nil
}

type triageRow struct {
	Target    float64
	Found     bool
	Threshold float64
	N         int
	Coverage  float64
	Accuracy  float64
}

var coverageTmpl = template.Must(template.New("coverage").Parse(`<section>
<h2>Triage: accuracy against coverage</h2>
<p class="note">Sort the test cases by the model's confidence (its highest probability), most confident first: the curve gives the accuracy of the most confident share of them. Settling every image at or above a confidence cut, and leaving the rest to people, reaches the accuracy of the curve at the cut's coverage.</p>
<figure>{{.Plot}}</figure>
<div class="scroll">
<table>
<thead><tr><th>target accuracy</th><th>confidence cut</th><th>cases settled</th><th>coverage</th><th>accuracy reached</th></tr></thead>
<tbody>
{{range .Rows}}<tr><td>{{printf "%.2f" .Target}}</td>{{if .Found}}<td>{{printf "%.4g" .Threshold}}</td><td>{{.N}}</td><td>{{printf "%.1f%%" .Coverage}}</td><td>{{printf "%.3f" .Accuracy}}</td>{{else}}<td colspan="4">not reached, even by the most confident cases</td>{{end}}</tr>
{{end}}</tbody>
</table>
</div>
</section>
`))

// coverageSection is the evaluation page's triage section: the curve of
// y and probs and, for each of TriageTargets, the cut that reaches it.
func coverageSection(y []int, probs [][]float64) (template.HTML, error) {
	curve := metrics.Coverage(y, probs)
	if len(curve) == 0 {
		return "", nil
	}
	p, err := CoveragePlot(curve)
	if err != nil {
		return "", err
	}
	svg, err := SVG(p, 440, 280)
	if err != nil {
		return "", err
	}
	v := struct {
		Plot template.HTML
		Rows []triageRow
	}{Plot: svg}
	for _, t := range TriageTargets {
		pt, ok := metrics.ThresholdFor(curve, t)
		v.Rows = append(v.Rows, triageRow{Target: t, Found: ok, Threshold: pt.Threshold, N: pt.N, Coverage: 100 * pt.Coverage, Accuracy: pt.Accuracy})
	}
	var buf bytes.Buffer
	if err := coverageTmpl.Execute(&buf, v); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return template.HTML(buf.String()), nil
}
