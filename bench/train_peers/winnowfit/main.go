// Command winnowfit is the winnow side of bench/train-vs-peers.sh until
// `winnow train` exists. Subcommands:
//
//	gen   -images IDX.gz -labels IDX.gz -out DIR     write a.csv and b.csv
//	fit   -in raw.csv -norm out-norm.csv -coef out-coef.csv [-l1 -l2 -repeat]
//	score -in norm.csv -l1 -l2 name=coef.csv ...     shared objective for all
//
// CSV layouts: raw/feature files are "path,f0,...,f{d-1},label"; the
// normalised file handed to the peers is "f0,...,f{d-1},y" with y the class
// index (classes sorted by name); coefficient files have one row per class,
// "b,w0,...,w{d-1}", in class-index order.
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/winnowml/winnow/bench/internal/rusage"
	"github.com/winnowml/winnow/internal/linear"
	"gonum.org/v1/gonum/mat"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: winnowfit gen|fit|score ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "fit":
		err = fit(os.Args[2:])
	case "score":
		err = score(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "winnowfit:", err)
		os.Exit(1)
	}
}

var fashionClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

func readIDX(path string) (dims []int, data []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, err
	}
	var magic uint32
	if err := binary.Read(gz, binary.BigEndian, &magic); err != nil {
		return nil, nil, err
	}
	if magic>>8 != 0x08 { // unsigned byte data
		return nil, nil, fmt.Errorf("%s: not an unsigned-byte IDX file (magic %#x)", path, magic)
	}
	for i := 0; i < int(magic&0xff); i++ {
		var v uint32
		if err := binary.Read(gz, binary.BigEndian, &v); err != nil {
			return nil, nil, err
		}
		dims = append(dims, int(v))
	}
	data, err = io.ReadAll(gz)
	return dims, data, err
}

// project maps 784 pixels (scaled to [0,1]) through a fixed Gaussian random
// matrix and a ReLU: a stand-in for CNN embeddings (dense, non-negative,
// correlated columns) until the featurizer exists.
func project(pix []byte, proj []float64, dout int) []float32 {
	out := make([]float32, dout)
	for o := 0; o < dout; o++ {
		s := 0.0
		row := proj[o*len(pix) : (o+1)*len(pix)]
		for p, v := range pix {
			if v != 0 {
				s += row[p] * float64(v) / 255
			}
		}
		out[o] = float32(math.Max(s, 0))
	}
	return out
}

func projection(seed uint64, din, dout int) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	p := make([]float64, din*dout)
	for i := range p {
		p[i] = rng.NormFloat64() / math.Sqrt(float64(din))
	}
	return p
}

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	images := fs.String("images", "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", "")
	labels := fs.String("labels", "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz", "")
	out := fs.String("out", ".", "")
	nb := fs.Int("nb", 2000, "rows of data set b")
	fs.Parse(args)
	idims, pix, err := readIDX(*images)
	if err != nil {
		return err
	}
	_, lab, err := readIDX(*labels)
	if err != nil {
		return err
	}
	npix := idims[1] * idims[2]
	// (a): the workshop shape, the first 6 images of each of classes 0-2.
	pa := projection(1, npix, 512)
	var rowsA []int
	seen := map[byte]int{}
	for i := 0; i < idims[0] && len(rowsA) < 18; i++ {
		if lab[i] < 3 && seen[lab[i]] < 6 {
			seen[lab[i]]++
			rowsA = append(rowsA, i)
		}
	}
	if err := writeRaw(filepath.Join(*out, "a.csv"), rowsA, pix, npix, lab, pa, 512); err != nil {
		return err
	}
	pb := projection(2, npix, 1280)
	rowsB := make([]int, *nb)
	for i := range rowsB {
		rowsB[i] = i
	}
	return writeRaw(filepath.Join(*out, "b.csv"), rowsB, pix, npix, lab, pb, 1280)
}

func writeRaw(path string, rows []int, pix []byte, npix int, lab []byte, proj []float64, dout int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprint(w, "path")
	for j := 0; j < dout; j++ {
		fmt.Fprintf(w, ",f%d", j)
	}
	fmt.Fprintln(w, ",label")
	for _, i := range rows {
		feat := project(pix[i*npix:(i+1)*npix], proj, dout)
		fmt.Fprintf(w, "fashion-mnist/train/%05d.png", i)
		for _, v := range feat {
			w.WriteByte(',')
			w.WriteString(strconv.FormatFloat(float64(v), 'g', -1, 32))
		}
		fmt.Fprintf(w, ",%q\n", fashionClasses[lab[i]])
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	r.ReuseRecord = false
	return r.ReadAll()
}

// readRaw returns features, class indices and sorted class names.
func readRaw(path string) (*mat.Dense, []int, []string, error) {
	recs, err := readCSV(path)
	if err != nil {
		return nil, nil, nil, err
	}
	recs = recs[1:]
	n, d := len(recs), len(recs[0])-2
	X := mat.NewDense(n, d, nil)
	names := map[string]bool{}
	for i, rec := range recs {
		for j := 0; j < d; j++ {
			v, err := strconv.ParseFloat(rec[j+1], 32)
			if err != nil {
				return nil, nil, nil, err
			}
			X.Set(i, j, v)
		}
		names[rec[d+1]] = true
	}
	var classes []string
	for c := range names {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	idx := map[string]int{}
	for i, c := range classes {
		idx[c] = i
	}
	y := make([]int, n)
	for i, rec := range recs {
		y[i] = idx[rec[d+1]]
	}
	return X, y, classes, nil
}

func fit(args []string) error {
	fs := flag.NewFlagSet("fit", flag.ExitOnError)
	in := fs.String("in", "", "raw CSV")
	normOut := fs.String("norm", "", "write normalised CSV for the peers here")
	coefOut := fs.String("coef", "", "write coefficients here")
	l1 := fs.Float64("l1", 0.01, "")
	l2 := fs.Float64("l2", 0.01, "")
	repeat := fs.Int("repeat", 1, "fit this many times, report the fastest")
	maxIter := fs.Int("maxiter", 0, "")
	kktTol := fs.Float64("kkt", 0, "KKT tolerance (0: default)")
	tol := fs.Float64("tol", 0, "relative objective change tolerance (0: default)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the fits here")
	fs.Parse(args)
	X, y, classes, err := readRaw(*in)
	if err != nil {
		return err
	}
	p := linear.Params{L1: *l1, L2: *l2, MaxIter: *maxIter, KKTTol: *kktTol, Tol: *tol}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	var m *linear.Model
	best, bestCPU := math.Inf(1), math.Inf(1)
	for r := 0; r < *repeat; r++ {
		t0, c0 := time.Now(), cpuSeconds()
		m, err = linear.Fit(X, y, len(classes), p, nil)
		if err != nil {
			return err
		}
		best = math.Min(best, time.Since(t0).Seconds())
		bestCPU = math.Min(bestCPU, cpuSeconds()-c0)
	}
	s := m.Summary
	fmt.Printf("winnow: n=%d d=%d k=%d iterations=%d converged=%v kkt=%.2g objective=%.12g seconds=%.4f cpu=%.4f\n",
		s.N, s.D, len(classes), s.Iterations, s.Converged, s.KKT, s.Objective, best, bestCPU)
	nnz, l1n, l2n := 0, 0.0, 0.0
	for _, row := range m.W {
		for _, v := range row {
			if v != 0 {
				nnz++
			}
			l1n += math.Abs(v)
			l2n += v * v
		}
	}
	fmt.Printf("winnow: nonzero weights %d of %d, ||W||_1=%.6g, ||W||_2^2=%.6g\n", nnz, len(m.W)*len(m.W[0]), l1n, l2n)
	if *normOut != "" {
		if err := writeNorm(*normOut, X, y, &m.Norm); err != nil {
			return err
		}
	}
	if *coefOut != "" {
		if err := writeCoef(*coefOut, m.W, m.B); err != nil {
			return err
		}
	}
	stem := strings.TrimSuffix(*coefOut, ".csv")
	if err := os.WriteFile(stem+".cpu", []byte(fmt.Sprintf("%.6f\n", bestCPU)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(stem+".seconds", []byte(fmt.Sprintf("%.6f\n", best)), 0o644)
}

// cpuSeconds is the process's user+system CPU time.
func cpuSeconds() float64 { return rusage.CPU().Seconds() }

func readNumber(path string) float64 {
	s, err := os.ReadFile(path)
	if err != nil {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(s)), 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

func writeNorm(path string, X *mat.Dense, y []int, nz *linear.Normalization) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	n, d := X.Dims()
	for j := 0; j < d; j++ {
		fmt.Fprintf(w, "f%d,", j)
	}
	fmt.Fprintln(w, "y")
	buf := make([]float64, d)
	for i := 0; i < n; i++ {
		nz.Apply(X.RawRowView(i), buf)
		for _, v := range buf {
			w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
			w.WriteByte(',')
		}
		fmt.Fprintf(w, "%d\n", y[i])
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func writeCoef(path string, W [][]float64, b []float64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for c := range b {
		w.WriteString(strconv.FormatFloat(b[c], 'g', -1, 64))
		for _, v := range W[c] {
			w.WriteByte(',')
			w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func readCoef(path string) ([][]float64, []float64, error) {
	recs, err := readCSV(path)
	if err != nil {
		return nil, nil, err
	}
	var W [][]float64
	var b []float64
	for _, rec := range recs {
		row := make([]float64, len(rec))
		for j, s := range rec {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %v", path, err)
			}
			row[j] = v
		}
		b = append(b, row[0])
		W = append(W, row[1:])
	}
	return W, b, nil
}

func score(args []string) error {
	fs := flag.NewFlagSet("score", flag.ExitOnError)
	in := fs.String("in", "", "normalised CSV")
	l1 := fs.Float64("l1", 0.01, "")
	l2 := fs.Float64("l2", 0.01, "")
	fs.Parse(args)
	recs, err := readCSV(*in)
	if err != nil {
		return err
	}
	recs = recs[1:]
	n, d := len(recs), len(recs[0])-1
	X := mat.NewDense(n, d, nil)
	y := make([]int, n)
	for i, rec := range recs {
		for j := 0; j < d; j++ {
			v, err := strconv.ParseFloat(rec[j], 64)
			if err != nil {
				return err
			}
			X.Set(i, j, v)
		}
		y[i], err = strconv.Atoi(rec[d])
		if err != nil {
			return err
		}
	}
	type row struct {
		name          string
		obj, sec, cpu float64
	}
	var rows []row
	for _, a := range fs.Args() {
		i := strings.LastIndex(a, "=") // names may contain '=', paths do not
		name, path, ok := a[:max(i, 0)], a[i+1:], i > 0
		if !ok {
			return fmt.Errorf("want name=coef.csv, got %q", a)
		}
		W, b, err := readCoef(path)
		if err != nil {
			return err
		}
		obj, err := linear.Objective(X, y, W, b, linear.Params{L1: *l1, L2: *l2})
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		stem := strings.TrimSuffix(path, ".csv")
		rows = append(rows, row{name, obj, readNumber(stem + ".seconds"), readNumber(stem + ".cpu")})
	}
	ref := rows[0]
	fmt.Printf("%-26s %10s %10s %20s %13s %10s %10s\n", "solver", "wall s", "cpu s", "objective", "rel-vs-first", "wall/first", "cpu/first")
	for _, r := range rows {
		fmt.Printf("%-26s %10.4f %10.4f %20.12g %13.3e %10.2f %10.2f\n", r.name, r.sec, r.cpu, r.obj,
			(r.obj-ref.obj)/math.Abs(ref.obj), r.sec/ref.sec, r.cpu/ref.cpu)
	}
	return nil
}
