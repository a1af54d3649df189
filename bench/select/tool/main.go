// Command tool makes the data for bench/select-vs-numpy.sh and times
// winnow's plain read of it.
//
//	tool gen -rows 1000000 -dim 512 -classes 10 -labelled 2000 -out DIR
//	    DIR/pool.parquet  features as featurize writes them
//	    DIR/pool.npy      the same float32 matrix for numpy (row i = img/%07d.jpg)
//	    DIR/labels.csv    labels for the first -labelled rows, from a hidden
//	                      linear teacher, to train the model on
//	tool read FILE
//	    reads every row with featstore's batch loop and prints the seconds
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/winnowml/winnow/internal/featstore"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tool gen|read ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "read":
		err = read(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tool:", err)
		os.Exit(1)
	}
}

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	rows := fs.Int("rows", 1_000_000, "rows")
	dim := fs.Int("dim", 512, "feature dimension")
	classes := fs.Int("classes", 10, "classes of the hidden teacher")
	labelled := fs.Int("labelled", 2000, "rows to write labels for")
	out := fs.String("out", ".", "output directory")
	fs.Parse(args)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(2026, 512))
	// The teacher: a random linear map; a row's label is its argmax.
	teacher := make([][]float32, *classes)
	for c := range teacher {
		teacher[c] = make([]float32, *dim)
		for j := range teacher[c] {
			teacher[c][j] = float32(rng.NormFloat64())
		}
	}
	w, err := featstore.Create(filepath.Join(*out, "pool.parquet"),
		featstore.Meta{Backbone: "synthetic", BackboneSHA256: "5e1ec7", Preprocess: "none", Version: "bench", Dim: *dim})
	if err != nil {
		return err
	}
	defer w.Abort()
	npy, err := os.Create(filepath.Join(*out, "pool.npy"))
	if err != nil {
		return err
	}
	defer npy.Close()
	nb := bufio.NewWriterSize(npy, 1<<20)
	if err := npyHeader(nb, *rows, *dim); err != nil {
		return err
	}
	lab, err := os.Create(filepath.Join(*out, "labels.csv"))
	if err != nil {
		return err
	}
	defer lab.Close()
	lb := bufio.NewWriter(lab)
	fmt.Fprintln(lb, "path,label")

	batch := make([]featstore.Row, 256)
	for i := range batch {
		batch[i].Features = make([]float32, *dim)
	}
	var buf [4]byte
	for start := 0; start < *rows; start += len(batch) {
		b := batch[:min(len(batch), *rows-start)]
		for k := range b {
			i := start + k
			x := b[k].Features
			// Pooled-CNN-like: non-negative, 30% exact zeros, long tail.
			for j := range x {
				if rng.Float32() < 0.3 {
					x[j] = 0
				} else {
					x[j] = float32(rng.ExpFloat64())
				}
				binary.LittleEndian.PutUint32(buf[:], math.Float32bits(x[j]))
				nb.Write(buf[:])
			}
			b[k].Path = fmt.Sprintf("img/%07d.jpg", i)
			b[k].SHA256 = fmt.Sprintf("%064x", i)
			if i < *labelled {
				best, bestV := 0, float32(math.Inf(-1))
				for c, t := range teacher {
					v := float32(0)
					for j := range x {
						v += t[j] * (x[j] - 0.7) // centred: E[x_j] = 0.7
					}
					if v > bestV {
						best, bestV = c, v
					}
				}
				fmt.Fprintf(lb, "%s,class%d\n", b[k].Path, best)
			}
		}
		if err := w.Write(b...); err != nil {
			return err
		}
	}
	if err := nb.Flush(); err != nil {
		return err
	}
	if err := lb.Flush(); err != nil {
		return err
	}
	return w.Close()
}

// npyHeader writes a version 1.0 .npy header for a C-order float32 matrix.
func npyHeader(w io.Writer, rows, cols int) error {
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols)
	// magic(6) + version(2) + length(2) + dict + padding + '\n', a multiple of 64.
	total := 10 + len(dict) + 1
	pad := (64 - total%64) % 64
	header := dict + strings.Repeat(" ", pad) + "\n"
	var lenb [2]byte
	binary.LittleEndian.PutUint16(lenb[:], uint16(len(header)))
	if _, err := w.Write(append([]byte("\x93NUMPY\x01\x00"), lenb[:]...)); err != nil {
		return err
	}
	_, err := io.WriteString(w, header)
	return err
}

func read(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: tool read FILE")
	}
	start := time.Now()
	r, err := featstore.Open(args[0])
	if err != nil {
		return err
	}
	defer r.Close()
	dst := make([]featstore.Row, 1024)
	n := 0
	for {
		k, err := r.ReadBatch(dst)
		n += k
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	fmt.Printf("%.3f\n", time.Since(start).Seconds())
	fmt.Fprintf(os.Stderr, "read %d rows\n", n)
	return nil
}
