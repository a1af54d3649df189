package web

import (
	"html/template"
	"net/http"
	"os"
	"slices"
	"strconv"

	"gonum.org/v1/plot"

	"github.com/winnowml/winnow/internal/report"
)

type metricsRow struct {
	Round                       int
	Labels, TestItems           int
	Accuracy, LogLoss, MacroAUC float64
}

// metricsByRound returns each model's evaluation by round number; round 0 is
// the model trained at init from gold or imported labels.
func (s *Server) metricsByRound(r *http.Request) (map[int]metricsRow, error) {
	ms, err := s.store.Metrics(r.Context())
	if err != nil {
		return nil, err
	}
	out := map[int]metricsRow{}
	for _, m := range ms {
		out[m.Round] = metricsRow{m.Round, m.Labels, m.TestItems, m.Accuracy, m.LogLoss, m.MacroAUC}
	}
	return out, nil
}

// adminCurve draws the learning curve (test accuracy and macro AUC against
// the number of training labels, one point per model) with package report's
// chart, as a standalone SVG so the admin page's strict policy can stay.
func (s *Server) adminCurve(w http.ResponseWriter, r *http.Request) {
	ms, err := s.store.Metrics(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	acc := report.Series{Name: "accuracy"}
	auc := report.Series{Name: "macro AUC"}
	for _, m := range ms {
		if m.TestItems == 0 {
			continue
		}
		acc.X, acc.Y = append(acc.X, float64(m.Labels)), append(acc.Y, m.Accuracy)
		auc.X, auc.Y = append(auc.X, float64(m.Labels)), append(auc.Y, m.MacroAUC)
	}
	if len(acc.X) == 0 {
		s.fail(w, r, http.StatusNotFound, "No round has been evaluated yet.")
		return
	}
	p, err := report.LineChart("", "training labels", "on the gold test items", []report.Series{acc, auc})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	// The legend goes in a band above 1, the most any of these metrics can
	// reach, so no curve runs under it; the axis labels stop at 1.
	lo := 1.0
	for _, y := range append(slices.Clone(acc.Y), auc.Y...) {
		if y == y { // NaN: undefined for that model
			lo = min(lo, y)
		}
	}
	span := max(1-lo, 0.05)
	p.Y.Min, p.Y.Max = lo-0.05*span, 1+0.3*span
	p.Y.Tick.Marker = ticksUpTo{plot.DefaultTicks{}, 1}
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = 8, -2
	svg, err := report.SVG(p, 420, 260)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeSVG(w, svg)
}

// ticksUpTo drops the ticks above max and labels max itself.
type ticksUpTo struct {
	plot.Ticker
	max float64
}

func (t ticksUpTo) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	top := false
	for _, tk := range t.Ticker.Ticks(lo, hi) {
		if tk.Value <= t.max+1e-9 {
			out = append(out, tk)
			top = top || (tk.Label != "" && tk.Value > t.max-1e-9)
		}
	}
	if !top {
		out = append(out, plot.Tick{Value: t.max, Label: strconv.FormatFloat(t.max, 'g', -1, 64)})
	}
	return out
}

// reportFile resolves a round's report, "" when there is none.
func (s *Server) reportFile(n int) string {
	p := s.p.ReportPath(n)
	if p == "" {
		return ""
	}
	if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
		return ""
	}
	return p
}

// writeSVG serves a chart the site drew: never cached (it changes with every
// round), and under a policy that lets it style itself and nothing more.
func writeSVG(w http.ResponseWriter, svg template.HTML) {
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("Cache-Control", "no-store")
	// An SVG document with inline styles and no scripts.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	w.Write([]byte(svg))
}
