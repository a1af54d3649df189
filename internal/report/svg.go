// Package report draws winnow's plots and writes its HTML reports: single
// self-contained files (inline SVG, inline CSS, no scripts, no external
// fonts or links) that open offline and can be mailed around.
//
// The plot builders return *plot.Plot values so that any page can lay them
// out; SVG turns one into markup for html/template. The numbers drawn all
// come from package metrics, the project's one implementation of them.
package report

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"regexp"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// svgPrologue matches what vgsvg writes before the <svg> element: an XML
// declaration and a comment, both out of place inside HTML.
var svgPrologue = regexp.MustCompile(`^(?s)<\?xml[^>]*\?>\s*(<!--.*?-->\s*)?`)

// SVG renders p as an inline <svg> element of w x h points.
//
// Fonts are not embedded (that would add hundreds of kilobytes per plot):
// the text names Liberation Sans, which gonum measured it with, and falls
// back to its metric-compatible twins Arial and Helvetica, so labels keep
// the widths the layout assumed.
func SVG(p *plot.Plot, w, h vg.Length) (template.HTML, error) {
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("report: rendering SVG: %w", err)
	}
	b := svgPrologue.ReplaceAll(buf.Bytes(), nil)
	b = bytes.ReplaceAll(b, []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
	// gonum means an image to fill its rectangle; SVG's default keeps the
	// image's aspect ratio and letterboxes it.
	b = bytes.ReplaceAll(b, []byte("<image "), []byte(`<image preserveAspectRatio="none" `))
	// vgsvg's text is escaped with html.EscapeString, so class names
	// cannot inject markup: the result is safe to mark as HTML.
	return template.HTML(b), nil
}

// sans is the face of all text in winnow's plots.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

func textStyle(size vg.Length, c color.Color) text.Style {
	return text.Style{
		Color:   c,
		Font:    font.From(sans, size),
		Handler: plot.DefaultTextHandler,
	}
}

// restyle sets the face, size and colour of st, keeping its alignment and
// rotation (which gonum sets per axis).
func restyle(st *text.Style, size vg.Length, c color.Color) {
	st.Font = font.From(sans, size)
	st.Color = c
}

// newPlot returns a plot styled like the rest of the report: sans-serif
// text, muted axes, no frame clutter.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	restyle(&p.Title.TextStyle, 11, ink)
	p.Title.Padding = 6
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		restyle(&a.Label.TextStyle, 10, ink)
		restyle(&a.Tick.Label, 9, muted)
		a.LineStyle.Color = axisGrey
		a.Tick.LineStyle.Color = axisGrey
	}
	restyle(&p.Legend.TextStyle, 9, ink)
	p.Legend.ThumbnailWidth = 14
	p.Legend.Padding = 2.5
	return p
}

// Colours of the report. Classes use the Tableau 10 palette (matplotlib's
// tab10): distinct, readable on white, familiar from other tools; except
// that its grey is darkened to charcoal, since grey stands for "all other
// classes" in the score histograms.
var (
	ink      = color.RGBA{0x1f, 0x29, 0x37, 0xff}
	white    = color.RGBA{0xff, 0xff, 0xff, 0xff}
	muted    = color.RGBA{0x4b, 0x55, 0x63, 0xff}
	axisGrey = color.RGBA{0x9c, 0xa3, 0xaf, 0xff}
	gridGrey = color.RGBA{0xe5, 0xe7, 0xeb, 0xff}
	tab10    = []color.RGBA{
		{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
		{0xd6, 0x27, 0x28, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
		{0xe3, 0x77, 0xc2, 0xff}, {0x3f, 0x3f, 0x46, 0xff}, {0xbc, 0xbd, 0x22, 0xff},
		{0x17, 0xbe, 0xcf, 0xff},
	}
)

// classColor is the colour of class (or series) i. Past ten the palette
// repeats; classDashes tells the repeats apart on line plots.
func classColor(i int) color.RGBA { return tab10[i%len(tab10)] }

// classDashes is solid for the first ten classes, then dashed, dotted, ...
func classDashes(i int) []vg.Length {
	switch (i / len(tab10)) % 3 {
	case 1:
		return []vg.Length{vg.Points(5), vg.Points(3)}
	case 2:
		return []vg.Length{vg.Points(1.5), vg.Points(2)}
	}
	return nil
}

func withAlpha(c color.RGBA, a uint8) color.NRGBA {
	return color.NRGBA{c.R, c.G, c.B, a}
}

// ramp interpolates linearly between colour stops spread evenly over [0,1].
type ramp []color.RGBA

func (r ramp) at(v float64) color.RGBA {
	v = min(max(v, 0), 1)
	x := v * float64(len(r)-1)
	i := min(int(x), len(r)-2)
	f := x - float64(i)
	a, b := r[i], r[i+1]
	mix := func(p, q uint8) uint8 { return uint8(float64(p)*(1-f) + float64(q)*f + 0.5) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xff}
}

// blues is ColorBrewer's sequential Blues, for the confusion matrix.
var blues = ramp{
	{0xf7, 0xfb, 0xff, 0xff}, {0xc6, 0xdb, 0xef, 0xff}, {0x6b, 0xae, 0xd6, 0xff},
	{0x21, 0x71, 0xb5, 0xff}, {0x08, 0x30, 0x6b, 0xff},
}

// greys runs from white to slate, for the entropy background: neutral, so
// the class colours of the points stay the loudest thing on the plot.
var greys = ramp{
	{0xff, 0xff, 0xff, 0xff}, {0xd1, 0xd5, 0xdb, 0xff}, {0x6b, 0x72, 0x80, 0xff},
}

// luminance is the relative luminance of c in [0,1], to pick black or white
// text on a coloured cell.
func luminance(c color.RGBA) float64 {
	return (0.2126*float64(c.R) + 0.7152*float64(c.G) + 0.0722*float64(c.B)) / 255
}
