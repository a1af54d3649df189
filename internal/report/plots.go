package report

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"unicode/utf8"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/winnowml/winnow/internal/metrics"
)

// rocAxes is an empty ROC chart: both rates from 0 to 1, a grid and the
// dashed diagonal of a classifier that guesses.
func rocAxes(title string) (*plot.Plot, error) {
	p := newPlot(title, "false-positive rate", "true-positive rate")
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.Add(grid())
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return nil, err
	}
	diag.Color = axisGrey
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(diag)
	return p, nil
}

// ROCPlot draws one ROC curve per class (as from metrics.ROC on
// metrics.OneVsRest), with each class's AUC in the legend and the diagonal
// of a random classifier for reference. A nil curve (AUC undefined: the
// class has no cases, or only cases) is left out of the plot but kept in
// the legend, marked "AUC undefined".
func ROCPlot(classes []string, curves [][]metrics.Point, aucs []float64) (*plot.Plot, error) {
	if len(curves) != len(classes) || len(aucs) != len(classes) {
		return nil, fmt.Errorf("report: %d classes, %d curves, %d AUCs", len(classes), len(curves), len(aucs))
	}
	p, err := rocAxes("ROC curves, one class against the rest")
	if err != nil {
		return nil, err
	}

	for k, name := range classes {
		label := shortName(name) + "  (AUC " + fmtAUC(aucs[k]) + ")"
		if curves[k] == nil {
			p.Legend.Add(label)
			continue
		}
		pts := thinCurve(curves[k], 1e-3)
		xys := make(plotter.XYs, len(pts))
		for i, q := range pts {
			xys[i] = plotter.XY{X: q.FPR, Y: q.TPR}
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("report: ROC curve of %q: %w", name, err)
		}
		l.Color = classColor(k)
		l.Width = vg.Points(1.5)
		l.Dashes = classDashes(k)
		p.Add(l)
		p.Legend.Add(label, l)
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.XOffs, p.Legend.YOffs = -4, 4
	return p, nil
}

func fmtAUC(a float64) string {
	if math.IsNaN(a) {
		return "undefined"
	}
	return strconv.FormatFloat(a, 'f', 3, 64)
}

// thinCurve drops points that a plot cannot show: the middle of straight
// runs (a 10,000-case ROC is mostly horizontal and vertical steps) and points
// within eps of the last one kept. The first and last points always stay.
func thinCurve(pts []metrics.Point, eps float64) []metrics.Point {
	if len(pts) <= 2 {
		return pts
	}
	out := []metrics.Point{pts[0]}
	for i := 1; i < len(pts)-1; i++ {
		a, b, c := out[len(out)-1], pts[i], pts[i+1]
		cross := (b.FPR-a.FPR)*(c.TPR-a.TPR) - (b.TPR-a.TPR)*(c.FPR-a.FPR)
		if math.Abs(cross) < 1e-12 || math.Hypot(b.FPR-a.FPR, b.TPR-a.TPR) < eps {
			continue
		}
		out = append(out, b)
	}
	return append(out, pts[len(pts)-1])
}

func grid() *plotter.Grid {
	g := plotter.NewGrid()
	g.Vertical.Color = gridGrey
	g.Horizontal.Color = gridGrey
	return g
}

// shortName trims a class name for an axis or legend, where a long one
// would squeeze the plot; tables show names in full.
func shortName(s string) string {
	const max = 22
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// ConfusionHeatmap draws conf as a grid of cells, true classes as rows (the
// first at the top) and predicted classes as columns. A cell's colour is
// its share of the row, so a class's recall reads off the diagonal whatever
// the class sizes; the count is written in the cell.
func ConfusionHeatmap(conf metrics.Confusion) (*plot.Plot, error) {
	k := len(conf.Classes)
	if k == 0 || len(conf.Matrix) != k {
		return nil, fmt.Errorf("report: confusion matrix of %d rows for %d classes", len(conf.Matrix), k)
	}
	p := newPlot("Confusion matrix", "predicted class", "true class")
	norm := conf.RowNormalized()
	size := vg.Length(10)
	switch {
	case k > 12:
		size = 6
	case k > 6:
		size = 9
	}
	var labels plotter.XYLabels
	var styles []text.Style
	for i, row := range conf.Matrix {
		if len(row) != k {
			return nil, fmt.Errorf("report: confusion row %d has %d cells for %d classes", i, len(row), k)
		}
		yc := float64(k - 1 - i) // first class on top
		for j, n := range row {
			fill := blues.at(norm[i][j])
			cell, err := plotter.NewPolygon(plotter.XYs{
				{X: float64(j) - 0.5, Y: yc - 0.5}, {X: float64(j) + 0.5, Y: yc - 0.5},
				{X: float64(j) + 0.5, Y: yc + 0.5}, {X: float64(j) - 0.5, Y: yc + 0.5},
			})
			if err != nil {
				return nil, err
			}
			cell.Color = fill
			cell.LineStyle.Color = white
			cell.LineStyle.Width = vg.Points(1)
			p.Add(cell)

			labels.XYs = append(labels.XYs, plotter.XY{X: float64(j), Y: yc})
			labels.Labels = append(labels.Labels, strconv.Itoa(n))
			ink := ink
			if luminance(fill) < 0.55 {
				ink = white
			}
			st := textStyle(size, ink)
			st.XAlign, st.YAlign = draw.XCenter, draw.YCenter
			styles = append(styles, st)
		}
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, err
	}
	l.TextStyle = styles
	p.Add(l)

	names := make([]string, k)
	for j, c := range conf.Classes {
		names[j] = shortName(c)
	}
	p.NominalX(names...)
	rev := make([]string, k)
	for i := range names {
		rev[k-1-i] = names[i]
	}
	p.NominalY(rev...)
	p.X.Min, p.X.Max = -0.5, float64(k)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(k)-0.5
	p.X.Padding, p.Y.Padding = 0, 0
	// NominalX/Y drop the tick marks; an invisible length keeps the names
	// off the cells.
	p.X.Tick.Length, p.Y.Tick.Length = 4, 4
	if k > 3 || longest(names) > 8 {
		p.X.Tick.Label.Rotation = math.Pi / 4
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YTop
	}
	return p, nil
}

func longest(names []string) int {
	n := 0
	for _, s := range names {
		n = max(n, utf8.RuneCountInString(s))
	}
	return n
}

// histBins is the number of bins of the score histograms: 0.05 wide, fine
// enough to see where probabilities pile up, coarse enough for a few
// hundred cases.
const histBins = 20

// ScoreHistograms returns one small plot per class k: the distribution of
// the predicted probability of k over the cases that truly are k (in the
// class's colour) and over all other cases (grey). Each distribution is
// normalised to sum to 1, so a rare class is as visible as a common one.
// A well-separated class shows colour piled up near 1 and grey near 0.
func ScoreHistograms(classes []string, y []int, probs [][]float64) ([]*plot.Plot, error) {
	if err := metrics.Check(classes, y, probs); err != nil {
		return nil, err
	}
	plots := make([]*plot.Plot, len(classes))
	for k, name := range classes {
		scores, positive := metrics.OneVsRest(y, probs, k)
		var in, out []float64
		for i, s := range scores {
			if positive[i] {
				in = append(in, s)
			} else {
				out = append(out, s)
			}
		}
		title := shortName(name)
		if len(in) == 0 {
			title += " (no cases)"
		}
		p := newPlot(title, "p("+shortName(name)+")", "share of cases")
		p.X.Min, p.X.Max = 0, 1
		p.Y.Min = 0
		p.Add(grid())
		top := 0.0
		for _, h := range []*plotter.Histogram{
			histogram(out, withAlpha(axisGrey, 0x99)),
			histogram(in, withAlpha(classColor(k), 0xaa)),
		} {
			if h == nil {
				continue
			}
			p.Add(h)
			for _, b := range h.Bins {
				top = max(top, b.Weight)
			}
		}
		p.Y.Max = top * 1.08 // headroom: a bar touching the frame looks cut off
		if top == 0 {
			p.Y.Max = 1
		}
		plots[k] = p
	}
	return plots, nil
}

// histogram bins vs over [0,1] into histBins bins weighted to sum to 1; nil
// when vs is empty.
func histogram(vs []float64, fill color.Color) *plotter.Histogram {
	if len(vs) == 0 {
		return nil
	}
	bins := make([]plotter.HistogramBin, histBins)
	w := 1.0 / histBins
	for i := range bins {
		bins[i].Min, bins[i].Max = float64(i)*w, float64(i+1)*w
	}
	for _, v := range vs {
		i := min(int(v*histBins), histBins-1) // p = 1 goes in the last bin
		bins[i].Weight += 1 / float64(len(vs))
	}
	return &plotter.Histogram{
		Bins:      bins,
		Width:     w,
		FillColor: fill,
		LineStyle: draw.LineStyle{Color: fill, Width: vg.Points(0.5)},
	}
}

// Series is one line of a LineChart: Y against X, with an optional band
// from Lo to Hi (say, the spread of a learning curve over repetitions).
// Lo and Hi are both nil or both as long as X. NaN values break the line
// and the band, rather than being drawn as zero.
type Series struct {
	Name   string
	X, Y   []float64
	Lo, Hi []float64
}

// LineChart draws each series as a line in its own colour, over its shaded
// band if it has one, with a legend of the series names.
func LineChart(title, xlabel, ylabel string, series []Series) (*plot.Plot, error) {
	if len(series) == 0 {
		return nil, errors.New("report: line chart without series")
	}
	p := newPlot(title, xlabel, ylabel)
	p.Add(grid())
	// Bands first, so that no band covers another series' line.
	for i, s := range series {
		if len(s.Y) != len(s.X) {
			return nil, fmt.Errorf("report: series %q has %d x and %d y values", s.Name, len(s.X), len(s.Y))
		}
		if (s.Lo == nil) != (s.Hi == nil) || (s.Lo != nil && (len(s.Lo) != len(s.X) || len(s.Hi) != len(s.X))) {
			return nil, fmt.Errorf("report: series %q: band needs Lo and Hi as long as X", s.Name)
		}
		if s.Lo == nil {
			continue
		}
		for _, run := range finiteRuns(s.X, s.Lo, s.Hi) {
			var poly plotter.XYs
			for _, j := range run {
				poly = append(poly, plotter.XY{X: s.X[j], Y: s.Lo[j]})
			}
			for r := len(run) - 1; r >= 0; r-- {
				poly = append(poly, plotter.XY{X: s.X[run[r]], Y: s.Hi[run[r]]})
			}
			band, err := plotter.NewPolygon(poly)
			if err != nil {
				return nil, fmt.Errorf("report: band of %q: %w", s.Name, err)
			}
			band.Color = withAlpha(classColor(i), 0x38)
			band.LineStyle.Width = 0
			p.Add(band)
		}
	}
	for i, s := range series {
		var legend plot.Thumbnailer
		for _, run := range finiteRuns(s.X, s.Y) {
			xys := make(plotter.XYs, len(run))
			for r, j := range run {
				xys[r] = plotter.XY{X: s.X[j], Y: s.Y[j]}
			}
			l, sc, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, fmt.Errorf("report: series %q: %w", s.Name, err)
			}
			l.Color = classColor(i)
			l.Width = vg.Points(1.5)
			l.Dashes = classDashes(i)
			sc.Color = classColor(i)
			sc.Shape = draw.CircleGlyph{}
			sc.Radius = vg.Points(1.8)
			if len(run) > 60 {
				p.Add(l) // markers would merge into a smear
			} else {
				p.Add(l, sc)
			}
			legend = l
		}
		if legend != nil {
			p.Legend.Add(s.Name, legend)
		} else {
			p.Legend.Add(s.Name + " (no data)")
		}
	}
	// The legend goes top right, in headroom added above the data (bands
	// included), so it never covers a curve's end: a legend row is about
	// legendRow of the plot's data height of plotHeight.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, col := range [][]float64{s.Y, s.Lo, s.Hi} {
			for _, v := range col {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
		}
	}
	if hi > lo {
		rows := float64(len(series))
		frac := rows * legendRow / (plotHeight - rows*legendRow)
		p.Y.Min, p.Y.Max = lo-(hi-lo)*0.03, hi+(hi-lo)*(frac+0.03)
	}
	p.Legend.Top, p.Legend.Left = true, false
	p.Legend.XOffs, p.Legend.YOffs = -4, -2
	return p, nil
}

// legendRow and plotHeight (points) size the headroom LineChart leaves for
// its legend: the line charts are drawn 340 points high, of which about 270
// are the data area, and a legend row takes about 10.
const (
	legendRow  = 10.5
	plotHeight = 270
)

// ROCRoundsPlot draws one class's ROC curve at each round in a sequential
// colour scale, light (first round) to dark (last), and the full model's in
// black: a dozen rounds in ten reused categorical colours read as unrelated
// curves, while a scale shows the curves moving up round by round. Only the
// first, middle and last rounds and the full model are in the legend.
func ROCRoundsPlot(class string, rounds []int, curves [][]metrics.Point, aucs []float64, full []metrics.Point, fullAUC float64) (*plot.Plot, error) {
	if len(curves) != len(rounds) || len(aucs) != len(rounds) {
		return nil, fmt.Errorf("report: %d rounds, %d curves, %d AUCs", len(rounds), len(curves), len(aucs))
	}
	p, err := rocAxes(class)
	if err != nil {
		return nil, err
	}
	line := func(c []metrics.Point) (*plotter.Line, error) {
		pts := thinCurve(c, 1e-3)
		xys := make(plotter.XYs, len(pts))
		for i, q := range pts {
			xys[i] = plotter.XY{X: q.FPR, Y: q.TPR}
		}
		return plotter.NewLine(xys)
	}
	n := len(rounds)
	for i, c := range curves {
		if c == nil {
			continue
		}
		l, err := line(c)
		if err != nil {
			return nil, err
		}
		t := 0.0
		if n > 1 {
			t = float64(i) / float64(n-1)
		}
		l.Color = sequentialBlue(t)
		l.Width = vg.Points(1.3)
		p.Add(l)
		if i == 0 || i == n-1 || (n > 4 && i == n/2) {
			p.Legend.Add(fmt.Sprintf("round %d (AUC %s)", rounds[i], fmtAUC(aucs[i])), l)
		}
	}
	if full != nil {
		l, err := line(full)
		if err != nil {
			return nil, err
		}
		l.Color = color.RGBA{A: 255}
		l.Width = vg.Points(1.3)
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		p.Add(l)
		p.Legend.Add("full (AUC "+fmtAUC(fullAUC)+")", l)
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.XOffs, p.Legend.YOffs = -4, 4
	return p, nil
}

// sequentialBlue is ColorBrewer's Blues from its fourth step (lighter ones
// vanish on white) at t = 0 to its darkest at t = 1.
func sequentialBlue(t float64) color.RGBA {
	stops := []color.RGBA{{158, 202, 225, 255}, {107, 174, 214, 255}, {66, 146, 198, 255}, {33, 113, 181, 255}, {8, 81, 156, 255}, {8, 48, 107, 255}}
	t = math.Max(0, math.Min(1, t)) * float64(len(stops)-1)
	i := min(int(t), len(stops)-2)
	f := t - float64(i)
	a, b := stops[i], stops[i+1]
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + f*(float64(y)-float64(x)))) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 255}
}

// finiteRuns splits 0..len(cols[0])-1 into maximal runs of indices where
// every column is finite.
func finiteRuns(cols ...[]float64) [][]int {
	var runs [][]int
	var cur []int
	for i := range cols[0] {
		ok := true
		for _, c := range cols {
			if math.IsNaN(c[i]) || math.IsInf(c[i], 0) {
				ok = false
				break
			}
		}
		if ok {
			cur = append(cur, i)
			continue
		}
		if len(cur) > 0 {
			runs = append(runs, cur)
		}
		cur = nil
	}
	if len(cur) > 0 {
		runs = append(runs, cur)
	}
	return runs
}
