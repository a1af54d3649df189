package featurize

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/winnowml/winnow/internal/imageset"
	"github.com/winnowml/winnow/internal/progress"
)

// photoFolder writes n distinct 500x375 JPEGs cut from the test photos.
func photoFolder(b *testing.B, n int) []imageset.Item {
	b.Helper()
	var srcs []image.Image
	for _, name := range []string{"china.jpg", "flower.jpg"} {
		data, err := os.ReadFile(repo("testdata/images/photos/" + name))
		if err != nil {
			b.Fatal(err)
		}
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		srcs = append(srcs, img)
	}
	dir := b.TempDir()
	var items []imageset.Item
	for i := 0; i < n; i++ {
		src := srcs[i%len(srcs)]
		off := image.Pt(i%100, (i/3)%50)
		sub := src.(interface {
			SubImage(image.Rectangle) image.Image
		}).SubImage(image.Rect(0, 0, 500, 375).Add(off))
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, sub, &jpeg.Options{Quality: 90}); err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("%04d.jpg", i)
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
		items = append(items, imageset.Item{Path: name, File: filepath.Join(dir, name)})
	}
	return items
}

// BenchmarkFeaturize measures the whole pipeline (read, hash, decode, fit,
// pack, infer, write Parquet) on 500x375 JPEGs with the tiny test model, so
// the figure is dominated by winnow's own work rather than by the network.
func BenchmarkFeaturize(b *testing.B) {
	m := tinyModel(b)
	items := photoFolder(b, 200)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := filepath.Join(b.TempDir(), "f.parquet")
		if _, err := Run(context.Background(), items, out, Config{Model: m, Batch: 32, Workers: 2, Progress: progress.Quiet}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(items)*b.N)/b.Elapsed().Seconds(), "images/s")
}
