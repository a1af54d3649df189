package report

import (
	"bytes"
	"encoding/base64"
	"html/template"
	"image"
	"image/color"
	_ "image/jpeg" // decode the images featurize read
	"image/png"
	"os"
	"path/filepath"
	"sort"

	"github.com/winnowml/winnow/internal/metrics"
)

// Case is one test image in the report's lists of mistakes and doubts.
type Case struct {
	Path         string
	True, Pred   string
	PTrue, PPred float64
	Thumb        template.URL // data: URI of a downscaled PNG; empty if unreadable
}

// CaseOptions say where the images are and how much of them to embed.
type CaseOptions struct {
	Root string // the folder the feature file's paths are relative to
	// Mistakes and Unsure cap the two lists (defaults 24 and 12).
	Mistakes, Unsure int
	// Budget caps the embedded thumbnails' total bytes (default 600 KB):
	// past it the rows stay, without pictures, so a report of thousands
	// of mistakes remains a page one can open.
	Budget int
}

// thumbSide is the thumbnails' longer side in pixels: enough to recognise
// an object, small enough that 36 of them are ~100-300 KB.
const thumbSide = 72

// Cases lists the misclassified test rows, most confident mistakes first,
// and the least confident rows (right or wrong), lowest top probability
// first, each with a thumbnail when paths[i] is readable under opt.Root.
func Cases(paths []string, classes []string, y []int, probs [][]float64, opt CaseOptions) (mistakes, unsure []Case) {
	if opt.Mistakes == 0 {
		opt.Mistakes = 24
	}
	if opt.Unsure == 0 {
		opt.Unsure = 12
	}
	if opt.Budget == 0 {
		opt.Budget = 600 << 10
	}
	var wrong, all []int
	for i := range y {
		all = append(all, i)
		if metrics.Argmax(probs[i]) != y[i] {
			wrong = append(wrong, i)
		}
	}
	sort.SliceStable(wrong, func(a, b int) bool {
		return metrics.MaxProb(probs[wrong[a]]) > metrics.MaxProb(probs[wrong[b]])
	})
	sort.SliceStable(all, func(a, b int) bool {
		return metrics.MaxProb(probs[all[a]]) < metrics.MaxProb(probs[all[b]])
	})
	used := 0
	mk := func(i int) Case {
		p := metrics.Argmax(probs[i])
		c := Case{Path: paths[i], True: classes[y[i]], Pred: classes[p], PTrue: probs[i][y[i]], PPred: probs[i][p]}
		if opt.Root != "" && used < opt.Budget {
			if uri := thumbnail(filepath.Join(opt.Root, filepath.FromSlash(paths[i]))); uri != "" {
				used += len(uri)
				c.Thumb = template.URL(uri)
			}
		}
		return c
	}
	for _, i := range wrong[:min(len(wrong), opt.Mistakes)] {
		mistakes = append(mistakes, mk(i))
	}
	for _, i := range all[:min(len(all), opt.Unsure)] {
		unsure = append(unsure, mk(i))
	}
	return mistakes, unsure
}

// thumbnail returns a data: URI of the image downscaled (box filter) to
// thumbSide on its longer side, or "" if it cannot be read.
func thumbnail(name string) string {
	f, err := os.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return ""
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w == 0 || h == 0 {
		return ""
	}
	s := float64(thumbSide) / float64(max(w, h))
	if s > 1 {
		s = 1 // never enlarge a small image: the browser scales it
	}
	tw, th := max(1, int(float64(w)*s)), max(1, int(float64(h)*s))
	out := image.NewNRGBA(image.Rect(0, 0, tw, th))
	for ty := 0; ty < th; ty++ {
		y0, y1 := b.Min.Y+ty*h/th, b.Min.Y+max((ty+1)*h/th, ty*h/th+1)
		for tx := 0; tx < tw; tx++ {
			x0, x1 := b.Min.X+tx*w/tw, b.Min.X+max((tx+1)*w/tw, tx*w/tw+1)
			var r, g, bl, a, n uint64
			for yy := y0; yy < y1; yy++ {
				for xx := x0; xx < x1; xx++ {
					cr, cg, cb, ca := img.At(xx, yy).RGBA()
					r, g, bl, a, n = r+uint64(cr), g+uint64(cg), bl+uint64(cb), a+uint64(ca), n+1
				}
			}
			out.Set(tx, ty, color.RGBA64{uint16(r / n), uint16(g / n), uint16(bl / n), uint16(a / n)})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, out); err != nil {
		return ""
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}
