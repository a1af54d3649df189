// Command probe measures how well each candidate backbone layer serves a
// linear classifier on Fashion-MNIST: for every candidate (one tapped layer,
// or several concatenated) and every label budget, it draws class-balanced
// labelled sets from the pool, picks (l1, l2) by cross-validation, fits, and
// scores the test set -- with winnow's own featurize pipeline, solver,
// cross-validation and metrics. bench/backbone-probe.sh runs it.
//
// Each source model is converted once with all its candidate taps and
// featurized once; a candidate is a slice of those columns, which is what a
// model tapped at just those layers would compute.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/featurize"
	"github.com/winnowml/winnow/internal/imageio"
	"github.com/winnowml/winnow/internal/imageset"
	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/metrics"
	"github.com/winnowml/winnow/internal/progress"
	"github.com/winnowml/winnow/internal/tfjs"
)

// source is one featurization: a built-in, or an nsfwjs model with taps.
type source struct {
	name  string
	model string   // nsfwjs model folder, or a --model value for featurize
	taps  []string // for nsfwjs models
}

// candidate is a set of columns of one source.
type candidate struct {
	name   string
	source string
	taps   []string // empty: all columns
}

var sources = []source{
	{name: "pixels", model: "pixels:28x28:gray"},
	{name: "mobilenet_v2", model: "mobilenet_v2", taps: []string{"block_6_expand_relu", "block_10_expand_relu", "block_13_expand_relu", "block_16_expand_relu", "out_relu"}},
	{name: "inception_v3", model: "inception_v3", taps: []string{"mixed2", "mixed5", "mixed7", "mixed10"}},
}

// grid is the penalty grid the probe's cross-validation searches: the
// workshop's l1 with a wide range of l2 (the penalty that matters at these
// sizes; train --cv searches l1 too, at 5x the cost).
var grid = []linear.Pair{{L1: 0.01, L2: 0.1}, {L1: 0.01, L2: 1}, {L1: 0.01, L2: 10}, {L1: 0.01, L2: 100}}

var maxFolds *int

var candidates = []candidate{
	{"raw pixels (784)", "pixels", nil},
	{"mnv2 block_10", "mobilenet_v2", []string{"block_10_expand_relu"}},
	{"mnv2 block_13", "mobilenet_v2", []string{"block_13_expand_relu"}},
	{"mnv2 block_16", "mobilenet_v2", []string{"block_16_expand_relu"}},
	{"mnv2 out_relu (penultimate)", "mobilenet_v2", []string{"out_relu"}},
	{"mnv2 block_6+13+out", "mobilenet_v2", []string{"block_6_expand_relu", "block_13_expand_relu", "out_relu"}},
	{"mnv2 block_10+13+16", "mobilenet_v2", []string{"block_10_expand_relu", "block_13_expand_relu", "block_16_expand_relu"}},
	{"mnv2 block_13 + incv3 mixed7", "both", []string{"block_13_expand_relu", "mixed7"}},
	{"incv3 mixed5", "inception_v3", []string{"mixed5"}},
	{"incv3 mixed7", "inception_v3", []string{"mixed7"}},
	{"incv3 mixed10 (penultimate)", "inception_v3", []string{"mixed10"}},
	{"incv3 mixed5+7", "inception_v3", []string{"mixed5", "mixed7"}},
}

func main() {
	images := flag.String("images", "bench/out/probe/images", "folder written by tools/fmnist-export (labels.csv with a split column)")
	out := flag.String("out", "bench/out/probe", "folder for converted models and feature files")
	nsfwjs := flag.String("nsfwjs", ".deps/nsfwjs", "nsfwjs models (scripts/fetch-nsfwjs.sh)")
	sizesFlag := flag.String("sizes", "30,100,300,1000", "label budgets (class-balanced)")
	draws := flag.Int("draws", 5, "draws per budget")
	only := flag.String("only", "", "comma-separated source names to run (default: all)")
	threads := flag.Int("threads", 2, "ONNX Runtime threads")
	maxFolds = flag.Int("folds", 3, "cross-validation folds (at most; fewer when a class has fewer labels)")
	bigDraws := flag.Int("big-draws", 2, "draws for budgets of 1000 labels or more (each costs minutes)")
	parallel := flag.Int("parallel", 2, "candidates probed at once")
	flag.Parse()
	var sizes []int
	for _, s := range strings.Split(*sizesFlag, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			log.Fatalf("-sizes: %v", err)
		}
		sizes = append(sizes, n)
	}
	if err := backbone.Init(""); err != nil {
		log.Fatal(err)
	}
	labels, err := dataset.ReadLabels(filepath.Join(*images, "labels.csv"), "label")
	if err != nil {
		log.Fatal(err)
	}
	split := readSplit(filepath.Join(*images, "labels.csv"))
	items, err := imageset.List(*images)
	if err != nil {
		log.Fatal(err)
	}

	offsets := map[string]map[string][2]int{} // source -> tap -> [offset, dim]
	files := map[string]string{}
	speed := map[string]float64{}
	for _, s := range sources {
		if *only != "" && !strings.Contains(","+*only+",", ","+s.name+",") {
			continue
		}
		file, offs, rate, err := featurizeSource(s, *nsfwjs, *out, items, *threads)
		if err != nil {
			log.Fatalf("%s: %v", s.name, err)
		}
		files[s.name], offsets[s.name], speed[s.name] = file, offs, rate
	}

	classes := labels.Classes()
	fmt.Printf("\n| candidate | dim |")
	for _, n := range sizes {
		fmt.Printf(" %d labels |", n)
	}
	fmt.Printf("\n|---|---|")
	for range sizes {
		fmt.Printf("---|")
	}
	fmt.Println()
	rows := make([]string, len(candidates))
	sem := make(chan struct{}, *parallel)
	var wg sync.WaitGroup
	for ci, c := range candidates {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			rows[ci] = probeCandidate(c, files, offsets, labels, split, classes, sizes, *draws, *bigDraws)
			fmt.Fprintf(os.Stderr, "probe: %s done\n", c.name)
		}()
	}
	wg.Wait()
	for _, r := range rows {
		fmt.Print(r)
	}
	fmt.Println()
	for name, r := range speed {
		if r > 0 { // 0: resumed from an earlier run, nothing timed
			fmt.Printf("featurize %s: %.1f images/s\n", name, r)
		}
	}
}

// probeCandidate returns the candidate's table row ("" if its source was
// not featurized).
func probeCandidate(c candidate, files map[string]string, offsets map[string]map[string][2]int, labels *dataset.Labels,
	split map[string]string, classes []string, sizes []int, draws, bigDraws int) string {
	var pool, test split2
	var err error
	if c.source == "both" {
		pool, test, err = loadJoined(files, offsets, labels, split, classes, c.taps)
	} else {
		file, ok := files[c.source]
		if !ok {
			return ""
		}
		pool, test, err = loadColumns(file, labels, split, classes, offsets[c.source], c.taps)
	}
	if err != nil {
		log.Fatalf("%s: %v", c.name, err)
	}
	_, dim := pool.x.Dims()
	row := fmt.Sprintf("| %s | %d |", c.name, dim)
	for _, n := range sizes {
		var accs []float64
		nd := draws
		if n >= 1000 {
			nd = min(draws, bigDraws)
		}
		for d := 0; d < nd; d++ {
			acc, err := probe(pool, test, len(classes), n, uint64(d+1))
			if err != nil {
				log.Fatalf("%s, %d labels: %v", c.name, n, err)
			}
			accs = append(accs, acc)
			if n >= len(pool.y) {
				break // the whole pool: one fit
			}
		}
		m, sd := meanSD(accs)
		if len(accs) == 1 {
			row += fmt.Sprintf(" %.1f |", 100*m)
		} else {
			row += fmt.Sprintf(" %.1f ± %.1f |", 100*m, 100*sd)
		}
	}
	return row + "\n"
}

// loadJoined concatenates taps of the MobileNetV2 and InceptionV3 files.
func loadJoined(files map[string]string, offsets map[string]map[string][2]int, labels *dataset.Labels,
	split map[string]string, classes []string, taps []string) (split2, split2, error) {
	var pools, tests []split2
	for _, src := range []string{"mobilenet_v2", "inception_v3"} {
		var mine []string
		for _, t := range taps {
			if _, ok := offsets[src][t]; ok {
				mine = append(mine, t)
			}
		}
		if len(mine) == 0 {
			continue
		}
		p, t, err := loadColumns(files[src], labels, split, classes, offsets[src], mine)
		if err != nil {
			return split2{}, split2{}, err
		}
		pools, tests = append(pools, p), append(tests, t)
	}
	if len(pools) != 2 {
		return split2{}, split2{}, fmt.Errorf("both sources needed")
	}
	return hcat(pools), hcat(tests), nil
}

// hcat joins matrices column-wise, matching rows by path (featurize writes
// rows in the order they finish, which differs between files).
func hcat(parts []split2) split2 {
	n, _ := parts[0].x.Dims()
	dim := 0
	index := make([]map[string]int, len(parts))
	for k, p := range parts {
		_, d := p.x.Dims()
		dim += d
		index[k] = map[string]int{}
		for i, path := range p.paths {
			index[k][path] = i
		}
	}
	x := mat.NewDense(n, dim, nil)
	for i, path := range parts[0].paths {
		row := x.RawRowView(i)[:0]
		for k, p := range parts {
			j, ok := index[k][path]
			if !ok {
				log.Fatalf("%s missing from a feature file", path)
			}
			row = append(row, p.x.RawRowView(j)...)
		}
	}
	return split2{x, parts[0].y, parts[0].paths}
}

// readSplit maps path -> split ("train" or "test") from labels.csv.
func readSplit(path string) map[string]string {
	data, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	out := map[string]string{}
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(line, ",")
		if i == 0 || len(f) < 3 {
			continue
		}
		out[f[0]] = f[2]
	}
	return out
}

// featurizeSource converts (if needed) and featurizes one source, returning
// the feature file, the column range of each tap, and images/s.
func featurizeSource(s source, nsfwjs, out string, items []imageset.Item, threads int) (string, map[string][2]int, float64, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", nil, 0, err
	}
	var data []byte
	var where string
	var spec backbone.Spec
	offs := map[string][2]int{}
	if len(s.taps) > 0 {
		m, err := tfjs.Load(filepath.Join(nsfwjs, s.model))
		if err != nil {
			return "", nil, 0, err
		}
		res, err := tfjs.Convert(m, tfjs.Options{Name: "probe-" + s.name, Taps: s.taps, NoProbs: true})
		if err != nil {
			return "", nil, 0, err
		}
		where = filepath.Join(out, "probe-"+s.name+".onnx")
		if err := res.Save(where); err != nil {
			return "", nil, 0, err
		}
		for _, t := range res.Taps {
			offs[t.Layer] = [2]int{t.Offset, t.Dim}
		}
		if data, err = os.ReadFile(where); err != nil {
			return "", nil, 0, err
		}
		spec = res.Spec
	} else {
		var err error
		if data, where, spec, err = backbone.Resolve(s.model); err != nil {
			return "", nil, 0, err
		}
	}
	model, err := backbone.OpenData(data, where, spec, backbone.Options{Threads: threads})
	if err != nil {
		return "", nil, 0, err
	}
	defer model.Close()
	file := filepath.Join(out, s.name+".parquet")
	start := time.Now()
	sum, err := featurize.Run(context.Background(), items, file, featurize.Config{Model: model, Resize: imageio.Pad,
		Batch: 16, Workers: 1, Log: os.Stderr, Progress: progress.Lines, Version: "probe"})
	if err != nil {
		return "", nil, 0, err
	}
	rate := 0.0
	if sum.OK > 0 {
		rate = float64(sum.OK) / time.Since(start).Seconds()
	}
	fmt.Fprintf(os.Stderr, "%s: %s\n", s.name, sum)
	return file, offs, rate, nil
}

type split2 struct {
	x     *mat.Dense
	y     []int
	paths []string
}

// loadColumns reads the pool (train) and test rows, keeping the taps' columns.
func loadColumns(file string, labels *dataset.Labels, splits map[string]string, classes []string, offs map[string][2]int, taps []string) (split2, split2, error) {
	idx := map[string]int{}
	for i, c := range classes {
		idx[c] = i
	}
	src, err := dataset.OpenFeatures(file, dataset.Columns{})
	if err != nil {
		return split2{}, split2{}, err
	}
	defer src.Close()
	var ranges [][2]int
	for _, t := range taps {
		r, ok := offs[t]
		if !ok {
			return split2{}, split2{}, fmt.Errorf("no tap %s in %s", t, file)
		}
		ranges = append(ranges, r)
	}
	if len(ranges) == 0 {
		ranges = [][2]int{{0, src.Dim()}}
	}
	dim := 0
	for _, r := range ranges {
		dim += r[1]
	}
	var px, tx []float64
	var py, ty []int
	var pp, tp []string
	for {
		p, vec, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return split2{}, split2{}, err
		}
		k, ok := idx[labels.ByPath[p]]
		if !ok {
			continue
		}
		row := make([]float64, 0, dim)
		for _, r := range ranges {
			for _, v := range vec[r[0] : r[0]+r[1]] {
				row = append(row, float64(v))
			}
		}
		if splits[p] == "test" {
			tx, ty, tp = append(tx, row...), append(ty, k), append(tp, p)
		} else {
			px, py, pp = append(px, row...), append(py, k), append(pp, p)
		}
	}
	return split2{mat.NewDense(len(py), dim, px), py, pp}, split2{mat.NewDense(len(ty), dim, tx), ty, tp}, nil
}

// probe draws n class-balanced labels from the pool, cross-validates the
// penalties, fits and returns the test accuracy.
func probe(pool, test split2, k, n int, seed uint64) (float64, error) {
	rng := rand.New(rand.NewPCG(seed, 42))
	byClass := make([][]int, k)
	for i, y := range pool.y {
		byClass[y] = append(byClass[y], i)
	}
	var rows []int
	per := max(n/k, 1)
	for _, r := range byClass {
		rng.Shuffle(len(r), func(a, b int) { r[a], r[b] = r[b], r[a] })
		rows = append(rows, r[:min(per, len(r))]...)
	}
	_, d := pool.x.Dims()
	x := mat.NewDense(len(rows), d, nil)
	y := make([]int, len(rows))
	for i, r := range rows {
		x.SetRow(i, pool.x.RawRowView(r))
		y[i] = pool.y[r]
	}
	folds := min(*maxFolds, per)
	params := linear.Params{}
	if folds >= 2 {
		cv, err := linear.CV(x, y, k, folds, grid, seed, params)
		if err != nil {
			return 0, err
		}
		params.L1, params.L2 = cv.Best.L1, cv.Best.L2
	} else {
		params.L1, params.L2 = 0.01, 0.01
	}
	m, err := linear.Fit(x, y, k, params, nil)
	if err != nil {
		return 0, err
	}
	P := m.PredictBatch(test.x, nil)
	n2, _ := P.Dims()
	probs := make([][]float64, n2)
	for i := range probs {
		probs[i] = P.RawRowView(i)
	}
	return metrics.Accuracy(test.y, probs), nil
}

func meanSD(v []float64) (float64, float64) {
	m := 0.0
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	s := 0.0
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	if len(v) > 1 {
		s /= float64(len(v) - 1)
	}
	return m, math.Sqrt(s)
}
