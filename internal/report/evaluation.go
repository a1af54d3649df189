package report

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot/vg"

	"github.com/winnowml/winnow/internal/metrics"
)

// templates/layout.html holds the frame every report page shares (the
// "head" and "foot" templates: CSS, header, footer); each page is one more
// template in templates/ that wraps its content in them.
//
//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"num": func(v float64) string { return fmtFloat(v, 3) },
}).ParseFS(templateFS, "templates/*.html"))

type card struct{ Label, Value, Hint string }

type classRow struct {
	Name                       string
	Color                      template.CSS
	Precision, Recall, F1, AUC float64
	Support                    int
}

type evaluationPage struct {
	Title      string
	N          int
	Cards      []card
	Rows       []classRow
	Macro      classRow
	Absent     []string
	Confusion  template.HTML
	ROC        template.HTML
	Histograms []template.HTML
	Simplex    template.HTML
	Coverage   template.HTML // the triage section (coverage.go)
	// Mistakes and Unsure are the test images to look at (cases.go).
	Mistakes, Unsure []Case
	CasesNote        string
}

// EvaluationCases adds the lists of misclassified and least confident test
// images to the page EvaluationHTMLWith writes.
type EvaluationCases struct {
	Paths []string
	CaseOptions
}

// EvaluationHTML writes a self-contained HTML page of the evaluation r of
// probs against y: the headline numbers, the per-class table, the confusion
// matrix, ROC curves, score histograms and, for three classes, the entropy
// simplex. r is normally metrics.Evaluate(classes, y, probs); the plots are
// drawn from classes, y and probs. Nothing is written on error.
func EvaluationHTML(w io.Writer, title string, r metrics.Report, classes []string, y []int, probs [][]float64) error {
	return EvaluationHTMLWith(w, title, r, classes, y, probs, nil)
}

// EvaluationHTMLWith is EvaluationHTML with, when cases is set, the lists of
// mistakes and least confident images (thumbnails when cases.Root is set).
func EvaluationHTMLWith(w io.Writer, title string, r metrics.Report, classes []string, y []int, probs [][]float64, cases *EvaluationCases) error {
	if err := metrics.Check(classes, y, probs); err != nil {
		return err
	}
	if !slices.Equal(r.Confusion.Classes, classes) || r.N != len(y) {
		return fmt.Errorf("report: the report is of %d cases of classes %q, not of %d cases of %q",
			r.N, r.Confusion.Classes, len(y), classes)
	}
	k := len(classes)
	var mistakes, unsure []Case
	casesNote := ""
	if cases != nil && len(cases.Paths) == len(y) {
		mistakes, unsure = Cases(cases.Paths, classes, y, probs, cases.CaseOptions)
		if cases.Root == "" {
			casesNote = "No thumbnails: give evaluate --images ROOT, the folder featurize read."
		}
	}
	page := evaluationPage{
		Mistakes:  mistakes,
		Unsure:    unsure,
		CasesNote: casesNote,
		Title:     title,
		N:         r.N,
		Cards: []card{
			{"accuracy", fmtFloat(r.Accuracy, 3), "share of cases predicted right"},
			{"macro F1", fmtFloat(r.MacroF1, 3), macroHint(r)},
			{"macro AUC", fmtFloat(r.MacroAUC, 3), "mean over classes, one vs rest"},
			{"log loss", fmtFloat(r.LogLoss, 3), "mean −ln p(true class); lower is better"},
		},
		Absent: r.Absent,
		Macro: classRow{
			Precision: r.MacroPrecision, Recall: r.MacroRecall, F1: r.MacroF1, AUC: r.MacroAUC,
			Support: r.Confusion.N(),
		},
	}
	curves := make([][]metrics.Point, k)
	aucs := make([]float64, k)
	for j, c := range classes {
		page.Rows = append(page.Rows, classRow{
			Name:      c,
			Color:     cssColor(classColor(j)),
			Precision: r.Precision[c], Recall: r.Recall[c], F1: r.F1[c], AUC: r.AUC[c],
			Support: r.Confusion.Support(j),
		})
		curves[j] = metrics.ROC(metrics.OneVsRest(y, probs, j))
		aucs[j] = r.AUC[c]
	}

	conf, err := ConfusionHeatmap(r.Confusion)
	if err != nil {
		return err
	}
	conf.Title.Text = "" // the page's heading says it
	side := vg.Points(float64(min(max(40*k+160, 340), 560)))
	if page.Confusion, err = SVG(conf, side, side); err != nil {
		return err
	}
	roc, err := ROCPlot(classes, curves, aucs)
	if err != nil {
		return err
	}
	roc.Title.Text = ""
	rocSide := vg.Length(400)
	if k > 5 { // the page gives it a row of its own
		rocSide = 480
	}
	if page.ROC, err = SVG(roc, rocSide, rocSide); err != nil {
		return err
	}
	hists, err := ScoreHistograms(classes, y, probs)
	if err != nil {
		return err
	}
	for _, h := range hists {
		s, err := SVG(h, 250, 180)
		if err != nil {
			return err
		}
		page.Histograms = append(page.Histograms, s)
	}
	if k == 3 {
		sp, err := EntropySimplex(classes, y, probs)
		if err != nil {
			return err
		}
		if page.Simplex, err = SVG(sp, 520, 480); err != nil {
			return err
		}
	}

	if page.Coverage, err = coverageSection(y, probs); err != nil {
		return err
	}

	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, "evaluation", page); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err = buf.WriteTo(w)
	return err
}

// fmtFloat formats a metric for the page, "–" when undefined.
func fmtFloat(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func cssColor(c color.RGBA) template.CSS {
	return template.CSS(fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B))
}

// macroHint says which classes the macro averages are over.
func macroHint(r metrics.Report) string {
	if len(r.Absent) == 0 {
		return "mean over classes"
	}
	return fmt.Sprintf("mean over the %d classes with cases", len(r.Confusion.Classes)-len(r.Absent))
}
