// Command fmnist-export writes Fashion-MNIST images from Debian's
// dataset-fashion-mnist as PNG files with a labels CSV, for the demo and the
// benchmarks:
//
//	go run ./tools/fmnist-export -o DIR -train 3000 -test 2000
//
// writes DIR/train/<class>/<index>.png, DIR/test/..., and DIR/labels.csv
// (path,label,split) with paths relative to DIR.
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/winnowml/winnow/internal/fmnist"
)

func main() {
	out := flag.String("o", "fmnist", "output folder")
	nTrain := flag.Int("train", 3000, "images from the training split (the first ones)")
	nTest := flag.Int("test", 2000, "images from the test split (the first ones)")
	dir := flag.String("data", fmnist.Dir, "folder with Debian's gzipped IDX files")
	flag.Parse()
	f, err := os.Create(filepath.Join(*out, "labels.csv"))
	if err != nil {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			log.Fatal(err)
		}
		if f, err = os.Create(filepath.Join(*out, "labels.csv")); err != nil {
			log.Fatal(err)
		}
	}
	w := csv.NewWriter(f)
	w.Write([]string{"path", "label", "split"})
	for _, s := range []struct {
		split, name string
		n           int
	}{{"train", "train", *nTrain}, {"t10k", "test", *nTest}} {
		if s.n <= 0 {
			continue
		}
		set, err := fmnist.Load(*dir, s.split, s.n)
		if err != nil {
			log.Fatal(err)
		}
		for i := range set.Images {
			class := fmnist.Classes[set.Labels[i]]
			rel := fmt.Sprintf("%s/%s/%05d.png", s.name, class, i)
			if err := set.WritePNG(i, filepath.Join(*out, filepath.FromSlash(rel))); err != nil {
				log.Fatal(err)
			}
			w.Write([]string{rel, class, s.name})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
