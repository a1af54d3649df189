// Command train_memory writes the data bench/train-memory.sh trains on: a
// Parquet feature file of N rows x D float32 features and a labels CSV, 10
// classes. The features are a fixed Gaussian random projection + ReLU of
// Fashion-MNIST pixels (2x2-pooled to 14x14, so generating 100,000 x 1,920
// takes about a minute on two cores rather than several), which gives what
// CNN embeddings have and Gaussian blobs lack: non-negative, sparse-ish,
// strongly correlated columns whose classes overlap. Fashion-MNIST has
// 70,000 images; rows beyond that reuse an image shifted by a random 1-2
// pixels, so no two rows are identical.
//
//	go run ./bench/train_memory -n 100000 -d 1920 -out DIR
package main

import (
	"bufio"
	"encoding/csv"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/fmnist"
)

func main() {
	n := flag.Int("n", 100000, "rows")
	d := flag.Int("d", 1920, "features per row")
	out := flag.String("out", "bench/out/train-memory", "directory for features.parquet and labels.csv")
	seed := flag.Uint64("seed", 1, "seed of the projection and the shifts")
	flag.Parse()
	if err := run(*n, *d, *out, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "train_memory:", err)
		os.Exit(1)
	}
}

const side = 14 // pooled image side

func run(n, d int, out string, seed uint64) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tr, err := fmnist.Load(fmnist.Dir, "train", 0)
	if err != nil {
		return err
	}
	te, err := fmnist.Load(fmnist.Dir, "t10k", 0)
	if err != nil {
		return err
	}
	imgs := append(tr.Images, te.Images...)
	labels := append(tr.Labels, te.Labels...)

	rng := rand.New(rand.NewPCG(seed, 7))
	const p = side*side + 1 // pooled pixels and a bias input
	proj := mat.NewDense(p, d, nil)
	for i := 0; i < p; i++ {
		for j := 0; j < d; j++ {
			proj.Set(i, j, rng.NormFloat64()/math.Sqrt(p))
		}
	}

	w, err := featstore.Create(filepath.Join(out, "features.parquet"), featstore.Meta{
		Backbone: "synthetic-relu-projection-fmnist", BackboneSHA256: fmt.Sprintf("seed-%d", seed),
		Preprocess: "2x2 pool to 14x14, /255, Gaussian projection, ReLU", Dim: d,
	})
	if err != nil {
		return err
	}
	defer w.Abort()
	lf, err := os.Create(filepath.Join(out, "labels.csv"))
	if err != nil {
		return err
	}
	defer lf.Close()
	lw := csv.NewWriter(bufio.NewWriter(lf))
	lw.Write([]string{"path", "label"})

	const batch = 1024
	in := mat.NewDense(batch, p, nil)
	var feats mat.Dense
	rows := make([]featstore.Row, batch)
	vecs := make([]float32, batch*d)
	for i0 := 0; i0 < n; i0 += batch {
		b := min(batch, n-i0)
		for r := 0; r < b; r++ {
			i := i0 + r
			dx, dy := 0, 0
			if i >= len(imgs) { // a shifted copy: never an exact duplicate row
				for dx == 0 && dy == 0 {
					dx, dy = rng.IntN(5)-2, rng.IntN(5)-2
				}
			}
			pool(imgs[i%len(imgs)], dx, dy, in.RawRowView(r)[:p-1])
			in.Set(r, p-1, 1)
		}
		feats.Reset()
		feats.Mul(in.Slice(0, b, 0, p), proj)
		for r := 0; r < b; r++ {
			i := i0 + r
			v := vecs[r*d : (r+1)*d]
			for j := range v {
				v[j] = float32(math.Max(feats.At(r, j), 0))
			}
			path := fmt.Sprintf("img/%06d.png", i)
			rows[r] = featstore.Row{Path: path, SHA256: fmt.Sprintf("%064x", i), Width: 28, Height: 28, Features: v}
			lw.Write([]string{path, fmnist.Classes[labels[i%len(labels)]]})
		}
		if err := w.Write(rows[:b]...); err != nil {
			return err
		}
	}
	lw.Flush()
	if err := lw.Error(); err != nil {
		return err
	}
	if err := lf.Close(); err != nil {
		return err
	}
	return w.Close()
}

// pool averages 2x2 blocks of the 28x28 image shifted by (dx, dy) (pixels
// shifted in from outside are 0) into dst, scaled to [0, 1].
func pool(img []byte, dx, dy int, dst []float64) {
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			s := 0.0
			for oy := 0; oy < 2; oy++ {
				for ox := 0; ox < 2; ox++ {
					sx, sy := 2*x+ox-dx, 2*y+oy-dy
					if sx >= 0 && sx < 28 && sy >= 0 && sy < 28 {
						s += float64(img[sy*28+sx])
					}
				}
			}
			dst[y*side+x] = s / (4 * 255)
		}
	}
}
