// Command ortonly measures ONNX Runtime inference alone on pre-made tensors:
// the ceiling that `winnow featurize` would reach if reading, decoding,
// resizing and writing cost nothing. It opens the model exactly as featurize
// does (internal/backbone, same intra-op threads), feeds random input in
// batches of the same size, and prints images/s. Each batch is different
// (--distinct of them, cycled, more than a cache holds), as real images are:
// one buffer read again and again would stay in the cache and flatter ONNX
// Runtime by a few percent.
//
//	go run ./bench/featurize/ortonly --model m.onnx --images 500 --batch 32 --threads 2
//
// With --lanes L, L goroutines run batches on the one session at once (ONNX
// Runtime's Run is safe for concurrent use), each with --threads intra-op
// threads: the layout featurize uses by default (one thread a lane).
//
// The last line of output is machine-readable: "ortonly: N images, S s, R
// images/s, C CPU ms/image" (CPU: user+system time of the process over the
// best pass, divided by its images: the inference cost alone).
package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/winnowml/winnow/bench/internal/rusage"
	"github.com/winnowml/winnow/internal/backbone"
)

func main() {
	model := flag.String("model", "", "ONNX model with its sidecar MODEL.onnx.json")
	images := flag.Int("images", 500, "images per measured pass (at least --batch x --lanes)")
	batch := flag.Int("batch", 32, "images per Run call")
	threads := flag.Int("threads", 2, "ONNX Runtime intra-op threads")
	lanes := flag.Int("lanes", 1, "Run calls in flight at once")
	distinct := flag.Int("distinct", 32, "different input batches, cycled")
	repeat := flag.Int("repeat", 2, "measured passes after one warm-up pass; the best is reported")
	ortLib := flag.String("ort-lib", "", "path to libonnxruntime.so.1 (default: backbone's search path)")
	flag.Parse()
	if err := run(*model, *ortLib, *images, *batch, *threads, *lanes, *repeat, *distinct); err != nil {
		fmt.Fprintln(os.Stderr, "ortonly:", err)
		os.Exit(1)
	}
}

func run(path, ortLib string, images, batch, threads, lanes, repeat, distinct int) error {
	if path == "" {
		return fmt.Errorf("--model is required")
	}
	if images <= 0 || batch <= 0 || repeat <= 0 || lanes <= 0 || distinct <= 0 {
		return fmt.Errorf("--images, --batch, --lanes, --repeat and --distinct must be positive")
	}
	if images < batch*lanes {
		return fmt.Errorf("--images %d leaves some of %d lanes of batch %d idle", images, lanes, batch)
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
	per := batch * m.InputLen()
	input := make([]float32, distinct*per)
	for i := range input {
		input[i] = float32(rng.NormFloat64())
	}
	feats := make([][]float32, lanes)
	pass := func() (time.Duration, time.Duration, error) {
		start, cpu0 := time.Now(), rusage.CPU()
		var next atomic.Int64 // images handed out so far
		errs := make([]error, lanes)
		var wg sync.WaitGroup
		for l := range lanes {
			wg.Go(func() {
				for {
					done := int(next.Add(int64(batch))) - batch
					if done >= images {
						return
					}
					n := min(batch, images-done)
					var err error
					if feats[l], err = m.Run(feats[l][:0], input[(done/batch%distinct)*per:][:n*m.InputLen()], n); err != nil {
						errs[l] = err
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start), rusage.CPU() - cpu0, errors.Join(errs...)
	}
	warm, warmCPU, err := pass() // warm-up: allocator, kernel selection, caches
	if err != nil {
		return err
	}
	best, bestCPU := time.Duration(1<<63-1), time.Duration(0)
	for i := 0; i < repeat; i++ {
		d, c, err := pass()
		if err != nil {
			return err
		}
		if d < best {
			best, bestCPU = d, c
		}
	}
	if len(feats[0]) == 0 || len(feats[0])%m.Dim() != 0 {
		return fmt.Errorf("unexpected output: %d values, dim %d", len(feats[0]), m.Dim())
	}
	fmt.Printf("ortonly: warm-up pass %.3f s, %.2f CPU ms/image\n", warm.Seconds(), float64(warmCPU.Microseconds())/1e3/float64(images))
	fmt.Printf("ortonly: model %s (%d features), batch %d, %d lanes x %d threads, ONNX Runtime %s\n",
		m.Spec.Name, m.Dim(), batch, lanes, threads, backbone.RuntimeVersion())
	fmt.Printf("ortonly: %d images, %.3f s, %.1f images/s, %.2f CPU ms/image\n", images, best.Seconds(),
		float64(images)/best.Seconds(), float64(bestCPU.Microseconds())/1e3/float64(images))
	return nil
}
