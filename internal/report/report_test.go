package report

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"gonum.org/v1/plot"

	"github.com/winnowml/winnow/internal/metrics"
)

// synthetic returns n cases of k classes with softmax probabilities of
// varying confidence: mostly right, sometimes confidently wrong.
func synthetic(seed uint64, n, k int, classes []string) ([]string, []int, [][]float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	if classes == nil {
		names := []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
			"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
		for i := range k {
			classes = append(classes, names[i%len(names)]+strings.Repeat("'", i/len(names)))
		}
	}
	y := make([]int, n)
	probs := make([][]float64, n)
	for i := range y {
		y[i] = rng.IntN(k)
		z := make([]float64, k)
		for j := range z {
			z[j] = rng.NormFloat64()
		}
		z[y[i]] += 3.5 * rng.Float64()
		s := 0.0
		for j := range z {
			z[j] = math.Exp(z[j])
			s += z[j]
		}
		for j := range z {
			z[j] /= s
		}
		probs[i] = z
	}
	return classes, y, probs
}

func render(t *testing.T, p *plot.Plot) string {
	t.Helper()
	s, err := SVG(p, 300, 300)
	if err != nil {
		t.Fatal(err)
	}
	return string(s)
}

// checkSVG asserts that s is one inline <svg> element with drawn content.
func checkSVG(t *testing.T, name, s string) {
	t.Helper()
	if !strings.HasPrefix(s, "<svg") || !strings.HasSuffix(strings.TrimSpace(s), "</svg>") {
		t.Errorf("%s: not a bare <svg> element: %.80q ... %.40q", name, s, s[max(0, len(s)-40):])
	}
	if strings.Count(s, "<svg") != 1 {
		t.Errorf("%s: %d <svg> elements", name, strings.Count(s, "<svg"))
	}
	if !strings.Contains(s, "<path") {
		t.Errorf("%s: nothing drawn", name)
	}
}

func TestPlotBuilders(t *testing.T) {
	for _, k := range []int{2, 3, 10} {
		classes, y, probs := synthetic(uint64(k), 400, k, nil)
		r := metrics.Evaluate(classes, y, probs)

		curves := make([][]metrics.Point, k)
		aucs := make([]float64, k)
		for j := range classes {
			curves[j] = metrics.ROC(metrics.OneVsRest(y, probs, j))
			aucs[j] = r.AUC[classes[j]]
		}
		p, err := ROCPlot(classes, curves, aucs)
		if err != nil {
			t.Fatal(err)
		}
		s := render(t, p)
		checkSVG(t, fmt.Sprintf("ROC K=%d", k), s)
		// Every class's AUC is in the legend, as the report has it.
		for j, c := range classes {
			want := html.EscapeString(fmt.Sprintf("%s  (AUC %.3f)", shortName(c), aucs[j]))
			if !strings.Contains(s, want) {
				t.Errorf("ROC K=%d: legend lacks %q", k, want)
			}
		}

		p, err = ConfusionHeatmap(r.Confusion)
		if err != nil {
			t.Fatal(err)
		}
		s = render(t, p)
		checkSVG(t, fmt.Sprintf("confusion K=%d", k), s)
		// One coloured cell per entry: k² filled paths at least.
		if n := strings.Count(s, "<path"); n < k*k {
			t.Errorf("confusion K=%d: %d paths for %d cells", k, n, k*k)
		}
		// Each cell's count is written (checked for the diagonal).
		for j := range k {
			if !strings.Contains(s, fmt.Sprintf(">%d</text>", r.Confusion.Matrix[j][j])) {
				t.Errorf("confusion K=%d: count %d of cell (%d,%d) not written", k, r.Confusion.Matrix[j][j], j, j)
			}
		}

		hs, err := ScoreHistograms(classes, y, probs)
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != k {
			t.Fatalf("K=%d: %d histograms", k, len(hs))
		}
		for j, h := range hs {
			checkSVG(t, fmt.Sprintf("histogram %d of K=%d", j, k), render(t, h))
		}

		sp, err := EntropySimplex(classes, y, probs)
		if k != 3 {
			if err == nil {
				t.Errorf("EntropySimplex accepted %d classes", k)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		s = render(t, sp)
		checkSVG(t, "simplex", s)
		if !strings.Contains(s, "<image") {
			t.Error("simplex: no entropy background image")
		}
		for _, c := range classes {
			if !strings.Contains(s, ">"+html.EscapeString(c)+"</text>") {
				t.Errorf("simplex: corner %q not labelled", c)
			}
		}
	}
}

func TestSimplexGeometry(t *testing.T) {
	// Corners and centre land where the drawing puts them, and simplexP
	// inverts simplexXY.
	for _, c := range []struct{ p, xy [3]float64 }{
		{[3]float64{1, 0, 0}, [3]float64{0, 0}},
		{[3]float64{0, 1, 0}, [3]float64{1, 0}},
		{[3]float64{0, 0, 1}, [3]float64{0.5, simplexHeight}},
		{[3]float64{1. / 3, 1. / 3, 1. / 3}, [3]float64{0.5, simplexHeight / 3}},
	} {
		x, y := simplexXY(c.p[:])
		if math.Abs(x-c.xy[0]) > 1e-12 || math.Abs(y-c.xy[1]) > 1e-12 {
			t.Errorf("simplexXY(%v) = (%v, %v), want (%v, %v)", c.p, x, y, c.xy[0], c.xy[1])
		}
		back := simplexP(x, y)
		for i := range back {
			if math.Abs(back[i]-c.p[i]) > 1e-12 {
				t.Errorf("simplexP(simplexXY(%v)) = %v", c.p, back)
			}
		}
	}
	// The background is darkest at the centre (maximum entropy) and
	// transparent outside the triangle.
	img := entropyRaster(101)
	b := img.Bounds()
	_, _, _, aCorner := img.At(0, 0).RGBA()
	if aCorner != 0 {
		t.Error("raster not transparent outside the triangle")
	}
	cx, cy := 50, int(float64(b.Dy())*(1-1.0/3)) // centroid, image rows grow downwards
	rc, _, _, _ := img.At(cx, cy).RGBA()
	rEdge, _, _, _ := img.At(2, b.Dy()-2).RGBA() // near corner of class 0
	if !(rc < rEdge) {
		t.Errorf("centre (red %d) not darker than near a corner (red %d)", rc, rEdge)
	}
}

func TestLineChart(t *testing.T) {
	x := []float64{10, 20, 30, 40, 50}
	series := []Series{
		{Name: "entropy", X: x, Y: []float64{0.6, 0.7, 0.8, 0.85, 0.9},
			Lo: []float64{0.55, 0.65, 0.75, 0.8, 0.87}, Hi: []float64{0.65, 0.75, 0.85, 0.9, 0.93}},
		{Name: "random", X: x, Y: []float64{0.5, math.NaN(), 0.7, 0.75, 0.8}},
	}
	p, err := LineChart("Learning curve", "labelled images", "accuracy", series)
	if err != nil {
		t.Fatal(err)
	}
	s := render(t, p)
	checkSVG(t, "line chart", s)
	for _, name := range []string{"entropy", "random", "Learning curve", "labelled images"} {
		if !strings.Contains(s, ">"+name+"</text>") {
			t.Errorf("line chart lacks text %q", name)
		}
	}
	// The band is a translucent fill in the first series' colour.
	if !hasTranslucentFill(s, classColor(0)) {
		t.Error("no translucent band in the first series' colour")
	}

	bad := []Series{{Name: "a", X: x, Y: x[:3]}}
	if _, err := LineChart("", "", "", bad); err == nil {
		t.Error("accepted Y shorter than X")
	}
	bad = []Series{{Name: "a", X: x, Y: x, Lo: x}}
	if _, err := LineChart("", "", "", bad); err == nil {
		t.Error("accepted Lo without Hi")
	}
	if _, err := LineChart("", "", "", nil); err == nil {
		t.Error("accepted no series")
	}
}

var svgFill = regexp.MustCompile(`fill:#([0-9A-Fa-f]{6});fill-opacity:([0-9.]+)`)

// hasTranslucentFill reports whether svg fills something with c at an
// opacity below one half (vgsvg rounds colours through premultiplied
// alpha, so channels may be off by a few).
func hasTranslucentFill(svg string, c color.RGBA) bool {
	for _, m := range svgFill.FindAllStringSubmatch(svg, -1) {
		var r, g, b int
		fmt.Sscanf(m[1], "%02x%02x%02x", &r, &g, &b)
		op, _ := strconv.ParseFloat(m[2], 64)
		near := func(a int, b uint8) bool { return a-int(b) <= 3 && int(b)-a <= 3 }
		if near(r, c.R) && near(g, c.G) && near(b, c.B) && op < 0.5 {
			return true
		}
	}
	return false
}

func TestThinCurveKeepsArea(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	scores := make([]float64, 5000)
	pos := make([]bool, len(scores))
	for i := range scores {
		pos[i] = rng.IntN(4) == 0
		scores[i] = rng.NormFloat64()
		if pos[i] {
			scores[i] += 1.5
		}
	}
	pts := metrics.ROC(scores, pos)
	thin := thinCurve(pts, 0) // collinear points only: exact
	if len(thin) >= len(pts)/2 {
		t.Errorf("thinning kept %d of %d points", len(thin), len(pts))
	}
	if a, b := metrics.TrapezoidArea(thin), metrics.TrapezoidArea(pts); math.Abs(a-b) > 1e-9 {
		t.Errorf("area changed from %v to %v", b, a)
	}
	thin = thinCurve(pts, 1e-3)
	if a, b := metrics.TrapezoidArea(thin), metrics.TrapezoidArea(pts); math.Abs(a-b) > 2e-3 {
		t.Errorf("area changed from %v to %v", b, a)
	}
	if thin[0] != pts[0] || thin[len(thin)-1] != pts[len(pts)-1] {
		t.Error("thinning moved the ends of the curve")
	}
}

// wellFormed parses doc with an HTML tokenizer and checks that every
// non-void element is closed, in order.
func wellFormed(doc string) error {
	void := map[string]bool{"meta": true, "link": true, "br": true, "img": true, "hr": true, "input": true}
	z := html.NewTokenizer(strings.NewReader(doc))
	var stack []string
	for {
		switch z.Next() {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				return z.Err()
			}
			if len(stack) > 0 {
				return fmt.Errorf("unclosed elements %v", stack)
			}
			return nil
		case html.StartTagToken:
			name, _ := z.TagName()
			if !void[string(name)] {
				stack = append(stack, string(name))
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if len(stack) == 0 || stack[len(stack)-1] != string(name) {
				return fmt.Errorf("</%s> closes %v", name, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
}

func TestWellFormedCatchesMismatch(t *testing.T) {
	for _, doc := range []string{"<div><p></div>", "<div>", "<svg><g></svg>"} {
		if wellFormed(doc) == nil {
			t.Errorf("wellFormed accepted %q", doc)
		}
	}
	if err := wellFormed(`<div><meta charset="utf-8"><svg><path d="M0,0" /></svg></div>`); err != nil {
		t.Error(err)
	}
}

var externalRef = regexp.MustCompile(`https?://[^"' )>]*`)

func TestEvaluationHTML(t *testing.T) {
	outDir := os.Getenv("WINNOW_REPORT_SAMPLES") // to look at the pages
	for _, k := range []int{2, 3, 10} {
		classes, y, probs := synthetic(uint64(100+k), 600, k, nil)
		r := metrics.Evaluate(classes, y, probs)
		var buf bytes.Buffer
		if err := EvaluationHTML(&buf, fmt.Sprintf("Evaluation, %d classes", k), r, classes, y, probs); err != nil {
			t.Fatal(err)
		}
		doc := buf.String()
		if outDir != "" {
			if err := os.WriteFile(filepath.Join(outDir, fmt.Sprintf("evaluation-%d.html", k)), buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := wellFormed(doc); err != nil {
			t.Errorf("K=%d: %v", k, err)
		}
		// Confusion + ROC + one histogram per class + the triage curve
		// (+ simplex for 3).
		want := 3 + k
		if k == 3 {
			want++
		}
		if n := strings.Count(doc, "<svg"); n != want {
			t.Errorf("K=%d: %d <svg> elements, want %d", k, n, want)
		}
		for _, ref := range externalRef.FindAllString(doc, -1) {
			if ref != "http://www.w3.org/2000/svg" && ref != "http://www.w3.org/1999/xlink" {
				t.Errorf("K=%d: external reference %q", k, ref)
			}
		}
		for _, bad := range []string{"<script", "<link", "@import", "url("} {
			if strings.Contains(doc, bad) {
				t.Errorf("K=%d: page contains %q", k, bad)
			}
		}
		if !strings.Contains(doc, fmt.Sprintf("%.3f", r.Accuracy)) {
			t.Errorf("K=%d: accuracy %.3f not on the page", k, r.Accuracy)
		}
		for _, c := range classes {
			if !strings.Contains(doc, html.EscapeString(c)) {
				t.Errorf("K=%d: class %q not on the page", k, c)
			}
		}
	}
}

func TestEvaluationHTMLEscapesClassNames(t *testing.T) {
	hostile := []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(2)>`, `&amp; co`}
	classes, y, probs := synthetic(7, 200, 3, hostile)
	var buf bytes.Buffer
	if err := EvaluationHTML(&buf, "<b>title</b>", metrics.Evaluate(classes, y, probs), classes, y, probs); err != nil {
		t.Fatal(err)
	}
	doc := buf.String()
	for _, bad := range []string{"<script", "<img", "<b>title"} {
		if strings.Contains(doc, bad) {
			t.Errorf("unescaped %q on the page", bad)
		}
	}
	if !strings.Contains(doc, "&lt;script&gt;") || !strings.Contains(doc, "&amp;amp; co") {
		t.Error("hostile class names not shown escaped")
	}
	if err := wellFormed(doc); err != nil {
		t.Error(err)
	}
	// The parsed page shows the names as text, verbatim.
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			text.WriteString(n.Data)
		}
		if n.Type == html.ElementNode && (n.Data == "script" || n.Data == "img") {
			t.Errorf("page has a <%s> element", n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	for _, c := range hostile {
		if !strings.Contains(text.String(), c) {
			t.Errorf("class name %q not in the page's text", c)
		}
	}
}

func TestEvaluationHTMLRejectsMismatch(t *testing.T) {
	classes, y, probs := synthetic(8, 50, 3, nil)
	r := metrics.Evaluate(classes, y, probs)
	var buf bytes.Buffer
	if err := EvaluationHTML(&buf, "t", r, classes, y[:40], probs[:40]); err == nil {
		t.Error("accepted a report of other cases")
	}
	if err := EvaluationHTML(&buf, "t", r, classes, y, probs[:49]); err == nil {
		t.Error("accepted inconsistent inputs")
	}
	if buf.Len() != 0 {
		t.Error("wrote output despite the error")
	}
}

func BenchmarkEvaluationHTML(b *testing.B) {
	classes, y, probs := synthetic(9, 10_000, 10, nil)
	r := metrics.Evaluate(classes, y, probs)
	b.ResetTimer()
	for b.Loop() {
		if err := EvaluationHTML(io.Discard, "bench", r, classes, y, probs); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPlotsWithAbsentClass(t *testing.T) {
	// No case of class "c": its AUC and ROC curve are undefined, and every
	// plot must still draw, saying so rather than failing.
	classes, y, probs := synthetic(10, 300, 3, []string{"a", "b", "c"})
	for i := range y {
		y[i] %= 2
	}
	r := metrics.Evaluate(classes, y, probs)
	curves := make([][]metrics.Point, 3)
	aucs := make([]float64, 3)
	for j, c := range classes {
		curves[j] = metrics.ROC(metrics.OneVsRest(y, probs, j))
		aucs[j] = r.AUC[c]
	}
	if curves[2] != nil || !math.IsNaN(aucs[2]) {
		t.Fatal("class without cases has a ROC curve")
	}
	p, err := ROCPlot(classes, curves, aucs)
	if err != nil {
		t.Fatal(err)
	}
	if s := render(t, p); !strings.Contains(s, "c  (AUC undefined)") {
		t.Error("ROC legend does not mark the undefined AUC")
	}
	hs, err := ScoreHistograms(classes, y, probs)
	if err != nil {
		t.Fatal(err)
	}
	if s := render(t, hs[2]); !strings.Contains(s, ">c (no cases)</text>") {
		t.Error("histogram of an absent class not titled so")
	}
	var buf bytes.Buffer
	if err := EvaluationHTML(&buf, "absent", r, classes, y, probs); err != nil {
		t.Fatal(err)
	}
	if err := wellFormed(buf.String()); err != nil {
		t.Error(err)
	}
	if _, err := ROCPlot(classes, curves[:2], aucs); err == nil {
		t.Error("ROCPlot accepted fewer curves than classes")
	}
}
