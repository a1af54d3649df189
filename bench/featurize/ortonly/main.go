// Command ortonly measures ONNX Runtime inference alone on pre-made tensors:
// the ceiling that `winnow featurize` would reach if reading, decoding,
// resizing and writing cost nothing. It opens the model exactly as featurize
// does (internal/backbone, same intra-op threads), feeds random input in
// batches of the same size, and prints images/s.
//
//	go run ./bench/featurize/ortonly --model m.onnx --images 500 --batch 32 --threads 2
//
// The last line of output is machine-readable: "ortonly: N images, S s, R images/s".
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/winnowml/winnow/internal/backbone"
)

func main() {
	model := flag.String("model", "", "ONNX model with its sidecar MODEL.onnx.json")
	images := flag.Int("images", 500, "images per measured pass")
	batch := flag.Int("batch", 32, "images per Run call")
	threads := flag.Int("threads", 2, "ONNX Runtime intra-op threads")
	repeat := flag.Int("repeat", 2, "measured passes after one warm-up pass; the best is reported")
	ortLib := flag.String("ort-lib", "", "path to libonnxruntime.so.1 (default: backbone's search path)")
	flag.Parse()
	if err := run(*model, *ortLib, *images, *batch, *threads, *repeat); err != nil {
		fmt.Fprintln(os.Stderr, "ortonly:", err)
		os.Exit(1)
	}
}

func run(path, ortLib string, images, batch, threads, repeat int) error {
	if path == "" {
		return fmt.Errorf("--model is required")
	}
	if images <= 0 || batch <= 0 || repeat <= 0 {
		return fmt.Errorf("--images, --batch and --repeat must be positive")
	}
	if err := backbone.Init(ortLib); err != nil {
		return err
	}
	spec, ok, err := backbone.LoadSidecar(path)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s has no sidecar %s", path, backbone.SidecarPath(path))
	}
	m, err := backbone.Open(path, spec, backbone.Options{Threads: threads})
	if err != nil {
		return err
	}
	defer m.Close()

	// Normalised pixels are roughly standard normal; the values do not change
	// the work a CNN does, but zeros could let a kernel take a shortcut.
	rng := rand.New(rand.NewPCG(1, 2))
	input := make([]float32, batch*m.InputLen())
	for i := range input {
		input[i] = float32(rng.NormFloat64())
	}
	var feats []float32
	pass := func() (time.Duration, error) {
		start := time.Now()
		for done := 0; done < images; {
			n := min(batch, images-done)
			var err error
			if feats, err = m.Run(feats[:0], input[:n*m.InputLen()], n); err != nil {
				return 0, err
			}
			done += n
		}
		return time.Since(start), nil
	}
	if _, err := pass(); err != nil { // warm-up: allocator, kernel selection, caches
		return err
	}
	best := time.Duration(1<<63 - 1)
	for i := 0; i < repeat; i++ {
		d, err := pass()
		if err != nil {
			return err
		}
		best = min(best, d)
	}
	if len(feats) == 0 || len(feats)%m.Dim() != 0 {
		return fmt.Errorf("unexpected output: %d values, dim %d", len(feats), m.Dim())
	}
	fmt.Printf("ortonly: model %s (%d features), batch %d, threads %d, ONNX Runtime %s\n",
		m.Spec.Name, m.Dim(), batch, threads, backbone.RuntimeVersion())
	fmt.Printf("ortonly: %d images, %.3f s, %.1f images/s\n", images, best.Seconds(), float64(images)/best.Seconds())
	return nil
}
