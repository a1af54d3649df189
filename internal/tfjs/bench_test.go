package tfjs

import (
	"testing"

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
