package report

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/winnowml/winnow/internal/metrics"
)

// simplexHeight is the height of the equilateral triangle with unit base.
var simplexHeight = math.Sqrt(3) / 2

// simplexXY maps a probability vector (p0, p1, p2) to the 2-D triangle
// with class 0 at (0,0), class 1 at (1,0) and class 2 at the apex.
func simplexXY(p []float64) (x, y float64) {
	return p[1] + p[2]/2, p[2] * simplexHeight
}

// simplexP is the inverse of simplexXY: the barycentric coordinates of
// (x, y), negative outside the triangle.
func simplexP(x, y float64) [3]float64 {
	p2 := y / simplexHeight
	p1 := x - p2/2
	return [3]float64{1 - p1 - p2, p1, p2}
}

// maxSimplexPoints bounds the points drawn, each a few hundred bytes of SVG;
// a larger test set is shown by an evenly spaced sample, as the title says.
const maxSimplexPoints = 1500

// EntropySimplex draws the predictions of a three-class model as points on
// the probability simplex (each corner a certain prediction of that class,
// the centre the uniform one), coloured by true class, over a background
// shaded by the entropy of the prediction at each point: white where the
// model is sure, dark where it cannot tell the classes apart. It returns an
// error unless there are exactly three classes.
func EntropySimplex(classes []string, y []int, probs [][]float64) (*plot.Plot, error) {
	if len(classes) != 3 {
		return nil, fmt.Errorf("report: the entropy simplex needs exactly 3 classes, not %d", len(classes))
	}
	if err := metrics.Check(classes, y, probs); err != nil {
		return nil, err
	}
	n := len(y)
	step := 1.0
	title := fmt.Sprintf("%d test cases", n)
	if n > maxSimplexPoints {
		step = float64(n) / maxSimplexPoints
		title = fmt.Sprintf("%d of %d test cases, evenly spaced", maxSimplexPoints, n)
	}
	p := newPlot(title, "", "")
	p.HideAxes()
	p.X.Min, p.X.Max = -0.1, 1.1
	p.Y.Min, p.Y.Max = -0.1, 0.98

	p.Add(plotter.NewImage(entropyRaster(480), 0, 0, 1, simplexHeight))
	edge, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 0}, {X: 0.5, Y: simplexHeight}, {X: 0, Y: 0}})
	if err != nil {
		return nil, err
	}
	edge.Color = axisGrey
	edge.Width = vg.Points(1)
	p.Add(edge)

	// Points are drawn in case order, not class by class, so that where
	// classes overlap no class systematically hides the others.
	radius := vg.Points(2.6)
	if float64(n)/step > 600 {
		radius = 2.1
	}
	var dots caseDots
	counts := make([]int, 3)
	for f := 0.0; int(f) < n; f += step {
		i := int(f)
		x, yy := simplexXY(probs[i])
		dots.xys = append(dots.xys, plotter.XY{X: x, Y: yy})
		dots.styles = append(dots.styles, draw.GlyphStyle{Color: classColor(y[i]), Radius: radius, Shape: ringedDot{}})
		counts[y[i]]++
	}
	p.Add(&dots)
	for k := range 3 {
		p.Legend.Add(shortName(classes[k])+" ("+strconv.Itoa(counts[k])+")",
			legendGlyph{draw.GlyphStyle{Color: classColor(k), Radius: 2.6, Shape: ringedDot{}}})
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle = textStyle(9, ink)

	// Corner labels: classes 0 and 1 under their corners, class 2 above.
	for k, at := range []struct {
		x, y  float64
		below bool
	}{{0, 0, true}, {1, 0, true}, {0.5, simplexHeight, false}} {
		l, err := plotter.NewLabels(plotter.XYLabels{
			XYs:    plotter.XYs{{X: at.x, Y: at.y}},
			Labels: []string{shortName(classes[k])},
		})
		if err != nil {
			return nil, err
		}
		st := textStyle(10, ink)
		st.XAlign = draw.XCenter
		st.YAlign = draw.YBottom
		l.Offset.Y = 5
		if at.below {
			st.YAlign = draw.YTop
			l.Offset.Y = -5
		}
		l.TextStyle = []text.Style{st}
		p.Add(l)
	}

	if err := addEntropyKey(p); err != nil {
		return nil, err
	}
	return p, nil
}

// entropyRaster renders the entropy of every point of the simplex as an
// image w pixels wide covering [0,1] x [0,simplexHeight], transparent outside
// the triangle. A raster keeps the SVG small (one PNG) where thousands of
// shaded polygons would not.
func entropyRaster(w int) image.Image {
	h := int(float64(w)*simplexHeight + 0.5)
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	maxH := math.Log2(3)
	for r := range h {
		yy := (1 - (float64(r)+0.5)/float64(h)) * simplexHeight
		for c := range w {
			xx := (float64(c) + 0.5) / float64(w)
			p := simplexP(xx, yy)
			if p[0] < 0 || p[1] < 0 || p[2] < 0 {
				continue // transparent
			}
			col := greys.at(metrics.Entropy(p[:]) / maxH)
			img.SetNRGBA(c, r, color.NRGBA{col.R, col.G, col.B, 0xff})
		}
	}
	return img
}

// addEntropyKey draws a small colour bar for the background in the empty
// corner right of the apex.
func addEntropyKey(p *plot.Plot) error {
	const x0, x1, y0, y1, steps = 0.74, 1.04, 0.80, 0.84, 120
	// An image, not a row of polygons: abutting polygons leave hairline
	// seams when anti-aliased.
	bar := image.NewNRGBA(image.Rect(0, 0, steps, 1))
	for i := range steps {
		c := greys.at((float64(i) + 0.5) / steps)
		bar.SetNRGBA(i, 0, color.NRGBA{c.R, c.G, c.B, 0xff})
	}
	p.Add(plotter.NewImage(bar, x0, y0, x1, y1))
	frame, err := plotter.NewLine(plotter.XYs{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}, {X: x0, Y: y0}})
	if err != nil {
		return err
	}
	frame.Color = axisGrey
	frame.Width = vg.Points(0.5)
	p.Add(frame)

	for _, t := range []struct {
		x, y   float64
		s      string
		xAlign draw.XAlignment
		yAlign draw.YAlignment
	}{
		{(x0 + x1) / 2, y1 + 0.01, "entropy of the prediction", draw.XCenter, draw.YBottom},
		{x0, y0 - 0.01, "0 bits", draw.XLeft, draw.YTop},
		{x1, y0 - 0.01, strconv.FormatFloat(math.Log2(3), 'f', 2, 64) + " bits", draw.XRight, draw.YTop},
	} {
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: t.x, Y: t.y}}, Labels: []string{t.s}})
		if err != nil {
			return err
		}
		st := textStyle(8, muted)
		st.XAlign, st.YAlign = t.xAlign, t.yAlign
		l.TextStyle = []text.Style{st}
		p.Add(l)
	}
	return nil
}

// ringedDot is a filled circle with a white ring, so a point stays visible
// on any background and overlapping points stay countable.
type ringedDot struct{}

func (ringedDot) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	draw.CircleGlyph{}.DrawGlyph(c, sty, pt)
	c.SetLineStyle(draw.LineStyle{Color: color.White, Width: vg.Points(0.6)})
	var ring vg.Path
	ring.Move(vg.Point{X: pt.X + sty.Radius, Y: pt.Y})
	ring.Arc(pt, sty.Radius, 0, 2*math.Pi)
	ring.Close()
	c.Stroke(ring)
}

// caseDots is a scatter with a style per point, drawn in order.
type caseDots struct {
	xys    plotter.XYs
	styles []draw.GlyphStyle
}

func (d *caseDots) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for i, q := range d.xys {
		c.DrawGlyph(d.styles[i], vg.Point{X: trX(q.X), Y: trY(q.Y)})
	}
}

func (d *caseDots) DataRange() (xmin, xmax, ymin, ymax float64) {
	return plotter.XYRange(d.xys)
}

// legendGlyph is a legend thumbnail showing one glyph.
type legendGlyph struct{ sty draw.GlyphStyle }

func (g legendGlyph) Thumbnail(c *draw.Canvas) { c.DrawGlyph(g.sty, c.Center()) }
