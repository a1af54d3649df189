// Command decodeonly measures what featurize spends per image before
// inference, on one thread: decoding (libjpeg-turbo at the DCT scale
// featurize picks) and fitting to the model input, exactly as featurize
// calls internal/imageio. Files are read into memory first, outside the
// timing. With the inference cost from ortonly it gives the pipeline limit
// of bench/featurize-vs-pytorch.sh: cores / (decode+resize CPU + inference
// CPU) images/s.
//
//	go run ./bench/featurize/decodeonly --images DIR --size 224 --resize pad
//
// The last line is machine-readable: "decodeonly: N images, D CPU ms/image
// decode+resize".
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/winnowml/winnow/bench/internal/rusage"
	"github.com/winnowml/winnow/internal/imageio"
)

func main() {
	dir := flag.String("images", "", "folder of JPEGs (*.jpg)")
	size := flag.Int("size", 224, "model input width and height")
	resize := flag.String("resize", "pad", "pad, crop or stretch, as featurize --resize")
	repeat := flag.Int("repeat", 2, "measured passes after one warm-up pass; the best is reported")
	flag.Parse()
	if err := run(*dir, *size, *resize, *repeat); err != nil {
		fmt.Fprintln(os.Stderr, "decodeonly:", err)
		os.Exit(1)
	}
}

func run(dir string, size int, resize string, repeat int) error {
	mode, err := imageio.ParseResizeMode(resize)
	if err != nil {
		return err
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(paths) == 0 {
		return fmt.Errorf("no *.jpg in %q", dir)
	}
	sort.Strings(paths)
	files := make([][]byte, len(paths))
	for i, p := range paths {
		if files[i], err = os.ReadFile(p); err != nil {
			return err
		}
	}
	// CPU time is the process's; one goroutine on one locked thread keeps
	// it the cost of this work alone.
	runtime.LockOSThread()
	var dec imageio.Decoder
	var fit *imageio.RGB
	opt := imageio.DecodeOptions{MaxPixels: 100_000_000, MinW: size, MinH: size, Resize: mode}
	fill := [3]uint8{124, 116, 104}
	pass := func() (time.Duration, error) {
		c0 := rusage.CPU()
		for i, data := range files {
			img, _, err := dec.Decode(data, opt)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", paths[i], err)
			}
			fit = imageio.Fit(fit, img, size, size, mode, fill)
		}
		return rusage.CPU() - c0, nil
	}
	if _, err := pass(); err != nil {
		return err
	}
	best := time.Duration(1<<63 - 1)
	for range repeat {
		d, err := pass()
		if err != nil {
			return err
		}
		best = min(best, d)
	}
	fmt.Printf("decodeonly: %d images, %.2f CPU ms/image decode+resize\n", len(files), float64(best.Microseconds())/1e3/float64(len(files)))
	return nil
}
