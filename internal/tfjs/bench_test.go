package tfjs

import (
	"testing"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/onnx"
)

// BenchmarkImport measures `winnow backbone import-tfjs` minus the file
// writes: reading nsfwjs' wrapped model (JS literal, base64 shards,
// dequantisation), converting, and serialising the ONNX model.
func BenchmarkImport(b *testing.B) {
	dir := nsfwjsDir(b)
	for _, name := range []string{"mobilenet_v2", "inception_v3"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				m, err := Load(dir + "/" + name)
				if err != nil {
					b.Fatal(err)
				}
				res, err := Convert(m, Options{})
				if err != nil {
					b.Fatal(err)
				}
				data, err := onnx.Marshal(res.Model)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(data)))
			}
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	dir := nsfwjsDir(b)
	for _, name := range []string{"mobilenet_v2", "inception_v3"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Load(dir + "/" + name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInfer is the featurize cost of the converted models: one batch
// of 8 images per op through ONNX Runtime, features only (--no-probs), at
// the default tap and at the taps the backbone spike found best.
func BenchmarkInfer(b *testing.B) {
	dir := nsfwjsDir(b)
	if err := backbone.Init(""); err != nil {
		b.Fatalf("ONNX Runtime (make deps): %v", err)
	}
	for _, c := range []struct{ model, tap string }{
		{"mobilenet_v2", ""}, {"mobilenet_v2", "block_13_expand_relu"},
		{"inception_v3", ""}, {"inception_v3", "mixed7"},
	} {
		name := c.model + "/" + c.tap
		if c.tap == "" {
			name = c.model + "/default"
		}
		b.Run(name, func(b *testing.B) {
			m, err := Load(dir + "/" + c.model)
			if err != nil {
				b.Fatal(err)
			}
			opt := Options{NoProbs: true}
			if c.tap != "" {
				opt.Taps = []string{c.tap}
			}
			res, err := Convert(m, opt)
			if err != nil {
				b.Fatal(err)
			}
			path := b.TempDir() + "/m.onnx"
			if err := res.Save(path); err != nil {
				b.Fatal(err)
			}
			bb, err := backbone.Open(path, res.Spec, backbone.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer bb.Close()
			const n = 8
			x := make([]float32, n*bb.InputLen())
			for i := range x {
				x[i] = float32(i%251) / 250
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := bb.Run(nil, x, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*n), "ms/image")
		})
	}
}
