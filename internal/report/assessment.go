package report

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Maybe is a statistic that may be undefined, with why (internal/assess's
// Value): the report shows "–" with the reason on hover, never NaN.
type Maybe interface {
	Get() (v float64, ok bool, why string)
}

// Bar is one bar of a BarChart.
type Bar struct {
	Label string
	Value float64
	OK    bool // false: not drawn, labelled "not defined"
	Group int  // colour group (0: participants, 1: consensus, 2: references)
}

// BarChart draws horizontal bars, one per row, top to bottom in order,
// each labelled with its value; undefined bars are left empty. Horizontal,
// so that long participant names read without rotation.
func BarChart(title, xlabel string, bars []Bar) (*plot.Plot, error) {
	if len(bars) == 0 {
		return nil, errors.New("report: bar chart without bars")
	}
	p := newPlot(title, xlabel, "")
	p.Add(grid())
	names := make([]string, len(bars))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, b := range bars {
		// Nominal axes count upwards: the first bar goes on top.
		names[len(bars)-1-i] = shortName(b.Label)
		if b.OK {
			lo, hi = min(lo, b.Value), max(hi, b.Value)
		}
	}
	groups := map[int]plotter.Values{}
	for i, b := range bars {
		for g := range 3 {
			if groups[g] == nil {
				groups[g] = make(plotter.Values, len(bars))
			}
			if b.OK && b.Group == g {
				groups[g][len(bars)-1-i] = b.Value
			}
		}
	}
	w := vg.Points(14)
	for g := range 3 {
		bc, err := plotter.NewBarChart(groups[g], w)
		if err != nil {
			return nil, err
		}
		bc.Horizontal = true
		bc.Color = []color.Color{classColor(0), classColor(1), axisGrey}[g]
		bc.LineStyle.Width = 0
		p.Add(bc)
	}
	labels := &barLabels{bars: bars}
	p.Add(labels)
	p.NominalY(names...)
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	// Accuracies differ in the second decimal: start the axis near the
	// smallest bar rather than at 0, so the differences show.
	p.X.Min = math.Max(0, math.Floor((lo-0.05)*20)/20)
	p.X.Max = math.Min(1, hi+0.04)
	if p.X.Max <= p.X.Min {
		p.X.Max = p.X.Min + 0.1
	}
	return p, nil
}

// barLabels writes each bar's value (or "not defined") at its end.
type barLabels struct{ bars []Bar }

func (l *barLabels) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := textStyle(8.5, ink)
	sty.YAlign = draw.YCenter
	n := len(l.bars)
	for i, b := range l.bars {
		y := trY(float64(n - 1 - i))
		if !b.OK {
			c.FillText(sty, vg.Point{X: trX(p.X.Min) + 4, Y: y}, "not defined")
			continue
		}
		c.FillText(sty, vg.Point{X: trX(math.Max(b.Value, p.X.Min)) + 3, Y: y}, strconv.FormatFloat(b.Value, 'f', 3, 64))
	}
}

// AssessmentBars renders BarChart as inline SVG sized for its rows.
func AssessmentBars(title, xlabel string, bars []Bar) (template.HTML, error) {
	p, err := BarChart(title, xlabel, bars)
	if err != nil {
		return "", err
	}
	h := vg.Points(float64(60 + 24*len(bars)))
	return SVG(p, 640, h)
}

// TooFew begins the reason of a statistic left undefined because it
// rests on too few items (internal/assess.MinEvidence).
const TooFew = "too few shared answers to estimate"

// FormatMaybe shows a statistic with prec decimals, or "–" with why as a
// tooltip when it is not defined; "too few shared answers to estimate"
// is written out, as a reader would otherwise take "–" for a bug.
func FormatMaybe(m Maybe, prec int) template.HTML {
	v, ok, why := m.Get()
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		text, class := "–", "undef"
		if strings.HasPrefix(why, TooFew) {
			text, class = TooFew, "undef toofew"
		}
		return template.HTML(`<span class="` + class + `" title="` + template.HTMLEscapeString("not defined: "+why) + `">` + text + `</span>`)
	}
	return template.HTML(template.HTMLEscapeString(strconv.FormatFloat(v, 'f', prec, 64)))
}

var assessmentPage = template.Must(template.Must(pages.Clone()).Funcs(template.FuncMap{
	"maybe": FormatMaybe,
	"pct":   func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) },
}).Parse(assessmentTemplate))

// AssessmentHTML writes the assessment report: data is internal/assess's
// Report (report cannot import assess, which imports the project and so
// this package); chart is its bar chart.
func AssessmentHTML(w io.Writer, data any, chart template.HTML) error {
	var buf bytes.Buffer
	page := struct {
		Title string
		R     any
		Chart template.HTML
	}{"winnow assessment", data, chart}
	if err := assessmentPage.ExecuteTemplate(&buf, "assessment", page); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err := buf.WriteTo(w)
	return err
}

const assessmentTemplate = `{{define "assessment"}}{{template "head" .}}
<style>.undef { color: var(--muted); cursor: help; border-bottom: 1px dotted var(--muted); } .toofew { font-size: 11.5px; white-space: normal; display: inline-block; min-width: 9em; line-height: 1.25; } td.why { text-align: left; white-space: normal; color: var(--muted); font-size: 13px; }
th:first-child, td:first-child { white-space: nowrap; overflow-wrap: normal; }
table.wide { font-size: 12.5px; } table.wide th, table.wide td { padding: 5px 6px; }
h3 { font-size: 15px; margin: 14px 0 4px; }</style>
{{with .R}}
<header>
<h1>Assessment: {{.Title}}</h1>
<p>{{len .Participants}} participants, {{len .Classes}} classes{{if gt .HiddenGold 0.0}}, hidden gold {{pct .HiddenGold}} of each queue{{end}}. “–” is not defined: hover for why.</p>
</header>

<section>
<h2>Participants</h2>
<p class="note">Labelled: answers that are a class or “none of these”. DS accuracy: Dawid-Skene's estimate of how often the participant gives the true class, given when it rests on 10 items or more (items of known class they answered, and items someone else also answered once 3 participants share items). Practice: share right at the first attempt and now. Gold: share right on gold items met while labelling (hidden gold). Consensus: agreement with the Dawid-Skene consensus and Cohen's kappa against it, over items someone else also answered or that are gold. Bad/skip: share of class answers flagged “bad example”, of answers skipped. Seconds: median time between two answers (pauses over 5 minutes left out). Model: test accuracy of the initial training set plus this participant's labels.</p>
<div class="scroll"><table class="wide">
<thead><tr><th>participant</th><th>labelled</th><th>DS accuracy</th><th>practice first</th><th>practice final</th><th>gold (n)</th><th>agreement</th><th>kappa</th><th>bad</th><th>skip</th><th>seconds</th><th>model acc.</th><th>rank</th></tr></thead>
<tbody>{{range .Participants}}<tr><td>{{.Name}}</td><td>{{.N}}</td><td>{{maybe .DSAccuracy 2}}</td><td>{{maybe .PracticeFirst 2}}</td><td>{{maybe .PracticeFinal 2}}</td><td>{{maybe .GoldAccuracy 2}} ({{.GoldN}})</td><td>{{maybe .AgreementConsensus 2}}</td><td>{{maybe .KappaConsensus 2}}</td><td>{{maybe .BadRate 2}}</td><td>{{maybe .SkipRate 2}}</td><td>{{maybe .MedianSeconds 1}}</td><td>{{maybe .ModelAccuracy 3}}</td><td>{{with .Model}}{{if .Rank}}{{.Rank}}{{else}}–{{end}}{{else}}–{{end}}</td></tr>
{{end}}</tbody></table></div>
</section>

<section>
<h2>Ranking by Dawid-Skene accuracy</h2>
<p class="note">Participants who gave label answers, best first, with their practice accuracy (first attempt) beside; the evidence is the items the estimate rests on. Those with too few are not ranked.</p>
<div class="scroll"><table>
<thead><tr><th>participant</th><th>rank</th><th>DS accuracy</th><th>practice first</th><th>evidence (items)</th></tr></thead>
<tbody>{{range .Ranking}}<tr><td>{{.Name}}</td><td>{{if .Rank}}{{.Rank}}{{else}}–{{end}}</td><td>{{maybe .DSAccuracy 3}}</td><td>{{maybe .PracticeFirst 2}}</td><td>{{.Evidence}}</td></tr>
{{else}}<tr><td colspan="5">No participant has given a label answer.</td></tr>{{end}}</tbody></table></div>
</section>

{{if $.Chart}}<section>
<h2>The workshop's test: one model per participant</h2>
<p class="note">Each bar is a model trained on the initial training set (gold practice items and imported labels) plus one set of labels, scored on the gold test items: each participant's, the consensus Close round would use, majority vote, the initial set alone{{range .Models}}{{if eq .Kind "truth"}} and the true labels{{end}}{{end}}.</p>
<figure>{{$.Chart}}</figure>
<div class="scroll"><table class="wide">
<thead><tr><th>model</th><th>rank</th><th>rows</th><th>added</th><th>accuracy</th><th>macro AUC</th>{{range $.R.Classes}}<th>AUC {{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Models}}{{$m := .}}<tr><td>{{.Name}}</td><td>{{if .Rank}}{{.Rank}}{{else}}–{{end}}</td><td>{{.Rows}}</td><td>{{.Added}}</td><td>{{maybe .Accuracy 3}}</td><td>{{maybe .MacroAUC 3}}</td>{{range $.R.Classes}}<td>{{maybe (index $m.AUC .) 3}}</td>{{end}}</tr>
{{end}}</tbody></table></div>
</section>{{end}}

<section>
<h2>Agreement among participants</h2>
<p class="note">Fleiss' kappa: agreement among all participants beyond chance (1 perfect, 0 chance), over items with two or more answers. Overall: {{maybe .Fleiss 3}}{{if .FleissWhy}} ({{.FleissWhy}}){{end}}.</p>
<div class="scroll"><table>
<thead><tr><th>answers of</th><th>items with ≥ 2 answers</th><th>Fleiss' kappa</th><th class="why">not defined because</th></tr></thead>
<tbody>{{range .FleissRounds}}<tr><td>{{.Label}}</td><td>{{.Items}}</td><td>{{maybe .Kappa 3}}</td><td class="why">{{.Why}}</td></tr>
{{end}}</tbody></table></div>
<h2 style="margin-top:16px">Cohen's kappa between participants</h2>
<div class="scroll"><table>
<thead><tr><th>pair</th><th>items both answered</th><th>kappa</th><th class="why">not defined because</th></tr></thead>
<tbody>{{range .Pairwise}}<tr><td>{{.NameA}} · {{.NameB}}</td><td>{{.Overlap}}</td><td>{{maybe .Kappa 3}}</td><td class="why">{{.Why}}</td></tr>
{{else}}<tr><td colspan="4">Not defined: fewer than two participants.</td></tr>{{end}}</tbody></table></div>
</section>

<section>
<h2>Consensus: Dawid-Skene</h2>
{{with .Consensus}}<p class="note">EM over each participant's confusion matrix, started from majority vote, gold items and first practice attempts clamped: {{.Items}} items with answers ({{.Gold}} gold) and {{.Practice}} practice answers, {{.Iterations}} iterations{{if not .Converged}} (not converged){{end}}. It differs from majority vote on {{.DifferFromMajority}} non-gold items. Estimated accuracy of each participant: {{range $n, $a := .LabellerAccuracy}}{{$n}} {{maybe $a 2}}; {{end}}</p>
<h2>Most contested items</h2>
<div class="scroll"><table>
<thead><tr><th>image</th><th>votes</th><th>majority</th><th>Dawid-Skene</th><th>top posterior</th></tr></thead>
<tbody>{{range .Contested}}<tr><td>{{.Path}}</td><td>{{range $c, $n := .Votes}}{{$c}} {{$n}} {{end}}</td><td>{{if .Majority}}{{.Majority}}{{else}}tie{{end}}</td><td>{{.DS}}</td><td>{{printf "%.3f" .Top}}</td></tr>
{{else}}<tr><td colspan="5">No item has two or more answers.</td></tr>{{end}}</tbody></table></div>
{{end}}</section>
<section>
<h2>Confusion against gold</h2>
<p class="note">Each participant's answers on gold items met while labelling: rows the gold class, columns the answer.</p>
<div>{{range .Participants}}{{if .GoldN}}<div class="scroll"><h3>{{.Name}} ({{.GoldN}} gold answers)</h3><table class="wide">
<thead><tr><th>gold \ answer</th>{{range $.R.Options}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range $i, $row := .Confusion}}<tr><td>{{index $.R.Classes $i}}</td>{{range $row}}<td>{{if .}}{{.}}{{end}}</td>{{end}}</tr>
{{end}}</tbody></table></div>{{end}}{{else}}<p class="note">No participant yet.</p>{{end}}</div>
</section>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{end}}
{{template "foot" .}}{{end}}`
