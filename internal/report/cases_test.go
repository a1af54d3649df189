package report

import (
	"encoding/base64"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The mistakes are exactly the misclassified rows, most confident first; the
// unsure list starts at the lowest top probability; readable images get a
// thumbnail no larger than thumbSide, unreadable ones none; the budget stops
// the pictures, not the rows.
func TestCases(t *testing.T) {
	dir := t.TempDir()
	img := image.NewGray(image.Rect(0, 0, 280, 140))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	for _, n := range []string{"a.png", "b.png", "c.png"} {
		f, err := os.Create(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, img)
		f.Close()
	}
	classes := []string{"x", "y"}
	paths := []string{"a.png", "b.png", "c.png", "missing.png"}
	y := []int{0, 0, 1, 1}
	probs := [][]float64{{0.3, 0.7}, {0.9, 0.1}, {0.45, 0.55}, {0.95, 0.05}}
	mis, uns := Cases(paths, classes, y, probs, CaseOptions{Root: dir})
	if len(mis) != 2 || mis[0].Path != "missing.png" || mis[1].Path != "a.png" {
		t.Fatalf("mistakes %+v", mis)
	}
	if mis[0].Thumb != "" || mis[1].Thumb == "" || mis[1].Pred != "y" || mis[1].True != "x" || mis[1].PPred != 0.7 {
		t.Errorf("mistake fields %+v", mis)
	}
	if uns[0].Path != "c.png" || uns[1].Path != "a.png" {
		t.Errorf("unsure order %v, %v", uns[0].Path, uns[1].Path)
	}
	if !strings.HasPrefix(string(mis[1].Thumb), "data:image/png;base64,") {
		t.Errorf("thumbnail %.40s", mis[1].Thumb)
	}
	th := thumbnail(filepath.Join(dir, "a.png"))
	if cfg, err := png.DecodeConfig(strings.NewReader(decodeURI(t, th))); err != nil || cfg.Width != thumbSide || cfg.Height != thumbSide/2 {
		t.Errorf("thumbnail %v×%v (%v), want %d×%d", cfg.Width, cfg.Height, err, thumbSide, thumbSide/2)
	}
	mis, uns = Cases(paths, classes, y, probs, CaseOptions{Root: dir, Budget: 1})
	pictures := 0
	for _, c := range append(mis, uns...) {
		if c.Thumb != "" {
			pictures++
		}
	}
	if len(uns) != 4 || pictures != 1 {
		t.Errorf("budget of 1 byte: %d rows, %d pictures; want 4 rows, 1 picture in both lists", len(uns), pictures)
	}
}

func decodeURI(t *testing.T, uri string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(uri, "data:image/png;base64,"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
