// Package featurize turns a set of images into a feature file: it reads and
// hashes each file, decodes and resizes it on a pool of workers, runs the
// backbone on batches, and writes rows as it goes.
//
// Progress is made durable in chunks: rows go to complete Parquet files in
// OUT.parts/ (each written to a temporary name and renamed), and at the end
// OUT and the chunks are merged into a new OUT the same way. A run killed at
// any moment therefore leaves OUT as it was plus whole chunks, and the next
// run skips every path already in either, so each image ends up exactly once.
package featurize

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/fetch"
	"github.com/winnowml/winnow/internal/imageio"
	"github.com/winnowml/winnow/internal/imageset"
	"github.com/winnowml/winnow/internal/progress"
)

// Config holds everything a run needs besides its inputs and output.
type Config struct {
	Model   *backbone.Model
	Resize  imageio.ResizeMode
	Batch   int // images per inference call
	Workers int // decoding goroutines
	// Threads is the number of threads decoding and inference keep busy
	// together (0: no limit, one inference call at a time). Model must be
	// opened with ModelOptions(Threads). See Layout.
	Threads   int
	MaxPixels int64 // reject images whose header claims more pixels
	MaxBytes  int64 // reject files larger than this without reading them
	// MaxMemory bounds the process's resident memory, apart from the
	// model's weights; 0 means 1 GiB. What ONNX Runtime and the Go
	// runtime hold once every lane has run a batch is measured at the
	// start, and decodes in flight share the rest (imageio.Budget): each
	// reserves its peak need before allocating.
	MaxMemory int64
	// DecodeMemory, when > 0, is the decode budget itself, MaxMemory
	// unused: for callers inside a larger process, whose resident memory
	// says nothing about this run.
	DecodeMemory int64

	ChunkRows  int           // rows per durable chunk
	ChunkEvery time.Duration // and at least this often

	Errors   io.Writer // JSON lines {"path","error","kind"}; nil discards
	Log      io.Writer // progress and notes; nil discards
	Progress progress.Mode
	Version  string

	// Fetcher downloads items that are URLs (imageset.Item.Remote); nil
	// makes one with fetch's defaults when the source has any. With remote
	// items the run has at least Fetcher.Concurrency() workers, since most
	// of a worker's time then goes to waiting for the network.
	Fetcher *fetch.Fetcher

	// Abandon makes a cancelled run return at once, leaving an inference
	// call in flight and decoders running: for a process about to exit on
	// a signal, which must then not close the model.
	Abandon bool
}

// Summary counts what happened to every listed path.
type Summary struct {
	Listed     int     // paths in the source (after dropping repeats)
	Repeated   int     // paths listed more than once, ignored after the first
	OK         int     // images featurized by this run
	Resumed    int     // already in OUT with the same sha256: skipped
	Duplicates int     // identical to another file (same sha256): features reused
	Failed     int     // reported in the errors file
	Seconds    float64 // wall time
	// StartSeconds is the part of Seconds spent before the first image:
	// ONNX Runtime's first call on every lane, which allocates its memory
	// (and tells --max-memory how much that is). It is the same whatever
	// the number of images, so the rate leaves it out.
	StartSeconds float64
	// DecodeSeconds and InferSeconds are thread time: decoders' time
	// holding a CPU slot (reading aside: hashing, decoding, resizing,
	// packing) and inference calls' duration times their threads. Their
	// ratio is what the run's images cost on each side.
	DecodeSeconds, InferSeconds float64
}

// Succeeded is the number of paths that have a row in OUT after the run.
func (s Summary) Succeeded() int { return s.OK + s.Resumed + s.Duplicates }

// Rate is images featurized a second after start-up: what a larger set
// of the same images would run at.
func (s Summary) Rate() float64 {
	if d := s.Seconds - s.StartSeconds; d > 0 {
		return float64(s.OK) / d
	}
	return 0
}

func (s Summary) String() string {
	out := fmt.Sprintf("ok %d, already done %d, duplicates %d, failed %d, %.1f s (start-up %.2f s), %.1f images/s after start-up",
		s.OK, s.Resumed, s.Duplicates, s.Failed, s.Seconds, s.StartSeconds, s.Rate())
	if s.OK > 0 && s.InferSeconds > 0 {
		out += fmt.Sprintf(" (thread time per image: decoding %.1f ms, inference %.1f ms)",
			1000*s.DecodeSeconds/float64(s.OK), 1000*s.InferSeconds/float64(s.OK))
	}
	return out
}

// Preprocess is the preprocessing description stored with the features.
func Preprocess(m *backbone.Model, mode imageio.ResizeMode) string {
	return m.Spec.Describe(mode.String())
}

// Meta is the metadata of the feature file this configuration produces.
func (c *Config) Meta() featstore.Meta {
	return featstore.Meta{Backbone: c.Model.Spec.Name, BackboneSHA256: c.Model.SHA256,
		Dim: c.Model.Dim(), Preprocess: Preprocess(c.Model, c.Resize), Version: c.Version}
}

func (c *Config) defaults() {
	if c.Batch <= 0 {
		// Per image, ONNX Runtime costs the same at 8 as at 32 on CPU
		// (bench/featurize: 5.30 vs 5.28 ms mobilenet_v2, 20.2 vs 21.0
		// resnet18), while a batch's activations and the page faults of its
		// first call grow with it: 310 MB instead of 900 MB RSS with two
		// lanes of mobilenet_v2.
		c.Batch = 8
	}
	if mb := c.Model.MaxBatch(); mb > 0 && c.Batch > mb {
		c.Batch = mb
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 1 << 30
	}
	if c.MaxMemory <= 0 {
		c.MaxMemory = 1 << 30
	}
	if c.ChunkRows <= 0 {
		c.ChunkRows = 4096
	}
	if c.ChunkEvery <= 0 {
		c.ChunkEvery = 30 * time.Second
	}
	if c.Errors == nil {
		c.Errors = io.Discard
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// decoded is one image ready for the backbone.
type decoded struct {
	item   imageset.Item
	sha    string
	w, h   int32
	tensor []float32
}

// Run featurizes items into out. It returns the counts even with an error, so
// an interrupted run can still say how far it got.
func Run(ctx context.Context, items []imageset.Item, out string, cfg Config) (Summary, error) {
	cfg.defaults()
	start := time.Now()
	var sum Summary
	items, sum.Repeated = dropRepeats(items)
	sum.Listed = len(items)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nlanes, laneThreads := Layout(cfg.Threads)
	// No more lanes than batches to fill: each costs a warm-up and memory.
	nlanes = max(1, min(nlanes, (len(items)+cfg.Batch-1)/cfg.Batch))
	decodeBudget, err := budgetDecodes(ctx, &cfg, nlanes, max(1, min(cfg.Batch, len(items))))
	if err != nil {
		return sum, err
	}
	if cfg.Model.Dim() == 0 {
		// The graph leaves the feature size dynamic and no warm-up batch
		// told it (DecodeMemory); one blank image does, and the file's
		// metadata needs it before the first row.
		if _, err := cfg.Model.Run(nil, make([]float32, cfg.Model.InputLen()), 1); err != nil {
			return sum, err
		}
	}
	sum.StartSeconds = time.Since(start).Seconds()
	meta := cfg.Meta()

	st, err := resume(out, meta)
	if err != nil {
		return sum, err
	}
	// The budget bounds what decodes hold alive; the collector must also
	// give back what they dropped before the next ones allocate, or garbage
	// from finished decodes doubles the peak. A GOMEMLIMIT set by the user
	// wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		prev := debug.SetMemoryLimit(int64(ms.HeapInuse) + decodeBudget + heapSlack)
		defer debug.SetMemoryLimit(prev)
	}
	budget := imageio.NewBudget(decodeBudget)
	cpu := newSlots(cfg.Threads)
	var decodeNS, inferNS atomic.Int64
	bar := progress.New(cfg.Log, cfg.Progress, "featurize", len(items))
	defer bar.Finish()

	chunks := &chunker{out: out, meta: meta, every: cfg.ChunkEvery, rows: cfg.ChunkRows}
	work := make(chan imageset.Item)
	// Room for a batch for every lane and one more, so decoders keep going
	// while all lanes run.
	ready := make(chan decoded, (nlanes+1)*cfg.Batch)
	errs := &errorLog{w: cfg.Errors}
	pool := sync.Pool{New: func() any { return make([]float32, cfg.Model.InputLen()) }}
	ts := tensorSpec(cfg.Model.Spec.Input)

	nworkers := cfg.Workers
	if slices.ContainsFunc(items, imageset.Item.Remote) {
		if cfg.Fetcher == nil {
			cfg.Fetcher = fetch.New(fetch.Config{MaxBytes: cfg.MaxBytes})
		}
		nworkers = max(nworkers, cfg.Fetcher.Concurrency())
	}
	var workers sync.WaitGroup
	for i := 0; i < nworkers; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			// Buffers a worker keeps outside the budget: as many in total as
			// Workers decoders would keep, however many fetch workers run.
			keep := keepDecodeBuffer * cfg.Workers / nworkers
			keepFile := keepFileBuffer * cfg.Workers / nworkers
			d := decoder{keepFile: keepFile, busy: &decodeNS, ctx: ctx, budget: budget, cpu: cpu, cfg: &cfg, st: st, errs: errs, pool: &pool, bar: bar, tensor: ts, fill: imageio.MeanColor(ts), keep: keep}
			for it := range work {
				if dec, ok := d.prepare(it); ok {
					select {
					case ready <- dec:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
	}
	go func() {
		defer close(work)
		for _, it := range items {
			select {
			case work <- it:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { workers.Wait(); close(ready) }()

	infer := inferer{cfg: &cfg, st: st, chunks: chunks, pool: &pool, bar: bar, errs: errs, ctx: ctx, cpu: cpu, threads: laneThreads, busy: &inferNS}
	lanes := make([]error, nlanes)
	var wg sync.WaitGroup
	for i := range lanes {
		l := &lane{inferer: &infer, input: make([]float32, 0, cfg.Batch*cfg.Model.InputLen())}
		wg.Go(func() {
			if lanes[i] = l.loop(ctx, ready); lanes[i] != nil {
				cancel() // the other lanes and the decoders stop too
			}
		})
	}
	wg.Wait()
	runErr := firstError(lanes)
	if runErr != nil && !infer.abandoned.Load() {
		cancel()
		for range ready { // let the workers finish so nothing writes after we return
		}
	}
	if err := chunks.close(); err != nil && runErr == nil {
		runErr = err
	}
	bar.Finish()

	st.mu.Lock()
	sum.OK, sum.Resumed, sum.Duplicates, sum.Failed = st.ok, st.resumed, st.dups, errs.count()
	sum.DecodeSeconds, sum.InferSeconds = float64(decodeNS.Load())/1e9, float64(inferNS.Load())/1e9
	late := st.late
	st.mu.Unlock()
	if runErr != nil {
		sum.Seconds = time.Since(start).Seconds()
		return sum, runErr
	}
	if err := ctx.Err(); err != nil {
		sum.Seconds = time.Since(start).Seconds()
		return sum, err
	}
	if err := finish(out, meta, late); err != nil {
		return sum, err
	}
	sum.Seconds = time.Since(start).Seconds()
	return sum, nil
}

func dropRepeats(items []imageset.Item) ([]imageset.Item, int) {
	seen := make(map[string]bool, len(items))
	kept := items[:0:0]
	for _, it := range items {
		if seen[it.Path] {
			continue
		}
		seen[it.Path] = true
		kept = append(kept, it)
	}
	return kept, len(items) - len(kept)
}

// state is what the workers and the inference loop share: which paths are
// done, which contents are known, and the counts.
type state struct {
	mu      sync.Mutex
	done    featstore.Index // path -> sha256 of rows already on disk
	known   map[string]*content
	late    map[string][]string // sha256 -> paths whose features are on disk under another path
	ok      int
	resumed int
	dups    int
}

// content tracks one distinct file content (one sha256).
type content struct {
	onDisk  bool     // features already written (earlier run or earlier chunk)
	failed  error    // decoding failed: identical files fail the same way
	waiters []string // paths of identical files seen while this one is in flight
}

func newState(done featstore.Index) *state {
	return &state{done: done, known: map[string]*content{}, late: map[string][]string{}}
}

// resume loads what earlier runs left in out and its chunks: which paths
// are done, and which contents already have features on disk.
func resume(out string, want featstore.Meta) (*state, error) {
	idx, meta, err := featstore.ResumeIndex(out)
	if err != nil {
		return nil, fmt.Errorf("resuming %s: %w", out, err)
	}
	st := newState(idx)
	if idx.Len() == 0 {
		return st, nil
	}
	if err := want.Compatible(meta); err != nil {
		return nil, fmt.Errorf("%s was made with another backbone or preprocessing (%v); write to a new file or delete it", out, err)
	}
	for sha := range idx.Contents() {
		st.known[sha] = &content{onDisk: true}
	}
	return st, nil
}

type errorLog struct {
	mu sync.Mutex
	w  io.Writer
	n  int
}

func (l *errorLog) report(path string, err error) {
	rec := struct {
		Path  string `json:"path"`
		Error string `json:"error"`
		Kind  string `json:"kind"`
	}{path, err.Error(), Kind(err)}
	line, _ := json.Marshal(rec)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	l.w.Write(append(line, '\n'))
}

func (l *errorLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// Kind classifies an error for the errors file, so users can filter the
// truncated uploads from the files that are not images at all.
func Kind(err error) string {
	var fe *fetch.Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	switch {
	case errors.Is(err, imageio.ErrEmpty):
		return "empty"
	case errors.Is(err, imageio.ErrTruncated):
		return "truncated"
	case errors.Is(err, imageio.ErrCorrupt): // before ErrNotImage, which it refines
		return "corrupt"
	case errors.Is(err, imageio.ErrNotImage):
		return "not-image"
	case errors.Is(err, imageio.ErrUnsupported):
		return "unsupported"
	case errors.Is(err, imageio.ErrTooLarge), errors.Is(err, errFileTooLarge):
		return "too-large"
	case errors.Is(err, ErrNotRegular):
		return "not-regular-file"
	case errors.Is(err, ErrNonFinite):
		return "non-finite"
	case errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission), isPathError(err):
		return "unreadable"
	}
	// Every error a file can cause is classified above; anything else is a
	// bug in that list, and README documents the kind as such.
	return "other"
}

func isPathError(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe)
}

var errFileTooLarge = errors.New("file too large")

// minDecodeMemory is the least --max-memory must leave for decoding: a
// 12-megapixel photo at full size.
const minDecodeMemory = 64 << 20

// budgetDecodes runs a batch of blank images (batch: as large as any the
// run will make) through every lane, so that
// ONNX Runtime has allocated what its calls need, and returns what
// MaxMemory leaves for decodes: the budget less the process's resident
// memory (without the model's weights), the buffers workers keep between
// images and the Go heap's slack. Peak RSS then stays under MaxMemory plus
// the model's size.
func budgetDecodes(ctx context.Context, cfg *Config, lanes, batch int) (int64, error) {
	if cfg.DecodeMemory > 0 {
		return cfg.DecodeMemory, nil
	}
	in := make([]float32, batch*cfg.Model.InputLen())
	errs := make([]error, lanes)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = cfg.Model.Run(nil, in, batch) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if cfg.Abandon {
		// As for any inference call: a signal is not kept waiting.
		select {
		case <-done:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	<-done
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	base := max(0, residentBytes()-cfg.Model.Bytes)
	held := base + int64(cfg.Workers)*(keepDecodeBuffer+keepFileBuffer) + heapSlack
	left := cfg.MaxMemory - held
	if left < minDecodeMemory {
		return 0, fmt.Errorf("--max-memory %s is too small: the model's runtime (%d inference calls of %d images) and the run's buffers take %s before any image is decoded; give at least %s, or a smaller --batch",
			imageio.FormatBytes(cfg.MaxMemory), lanes, cfg.Batch, imageio.FormatBytes(held), imageio.FormatBytes(held+minDecodeMemory))
	}
	if cfg.Progress != progress.Quiet {
		fmt.Fprintf(cfg.Log, "featurize: memory: %s for ONNX Runtime and buffers, %s for decoding (--max-memory %s, besides the %s model)\n",
			imageio.FormatBytes(held), imageio.FormatBytes(left), imageio.FormatBytes(cfg.MaxMemory), imageio.FormatBytes(cfg.Model.Bytes))
	}
	return left, nil
}

// residentBytes is the process's resident set size (Linux; 0 elsewhere,
// which leaves the whole budget to decodes).
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

const (
	// keepDecodeBuffer is the largest pixel buffer a worker keeps for the
	// next image (a 12-megapixel photo at full size); larger ones are
	// dropped, as they were only paid for by the budget while decoding.
	keepDecodeBuffer = 3 * 12_000_000
	// keepFileBuffer is the largest file buffer a worker keeps.
	keepFileBuffer = 8 << 20
	// heapSlack is the Go heap allowed beyond the decode budget (tensors
	// waiting for inference, rows, Parquet pages, garbage not yet
	// collected); it is taken from MaxMemory too.
	heapSlack = 128 << 20
)

// ErrNonFinite is the error for an image whose features include NaN or ±Inf.
var ErrNonFinite = errors.New("non-finite features")

func firstNonFinite(v []float32) int {
	for j, x := range v {
		if x-x != 0 { // NaN for NaN and ±Inf, 0 for every finite value
			return j
		}
	}
	return -1
}

// decoder is one worker's view: it reads, hashes, deduplicates and decodes.
type decoder struct {
	ctx    context.Context
	budget *imageio.Budget
	cpu    *slots
	cfg    *Config
	st     *state
	errs   *errorLog
	pool   *sync.Pool
	bar    *progress.Bar

	tensor   imageio.TensorSpec
	fill     [3]uint8        // the model's mean colour, for pad bars
	dec      imageio.Decoder // reuses pixel buffers across images
	keep     int             // largest pixel buffer dec keeps for the next image
	fit      *imageio.RGB    // likewise
	file     []byte          // the last file's bytes, reused
	keepFile int             // largest file buffer kept
	busy     *atomic.Int64   // nanoseconds holding a CPU slot
}

func (d *decoder) prepare(it imageset.Item) (decoded, bool) {
	// The file's bytes count against the budget from before they are read
	// until the decode is done (a 1 GB BMP is 1 GB in memory).
	var held int64
	defer func() { d.budget.Release(held) }()
	reserve := func(size int64) error {
		// A download of unknown length asks again as it grows. Waiting for
		// more while holding what it has could deadlock two large
		// downloads, so, as for the decode below, the share is given back
		// and the total asked for at once.
		total := held + size
		d.budget.Release(held)
		held = 0
		if err := d.budget.Acquire(d.ctx, total); err != nil {
			return err
		}
		held = total
		return nil
	}
	var data []byte
	var err error
	if it.Remote() {
		data, err = d.cfg.Fetcher.Fetch(d.ctx, it.File, reserve)
	} else {
		data, err = readFile(it.File, d.cfg.MaxBytes, reserve, d.file)
		if cap(data) <= d.keepFile {
			// Reused for the next file: fresh pages for every file cost
			// page faults worth a few percent of a 12 MP photo's time.
			d.file = data[:0]
		}
	}
	if err != nil {
		if d.ctx.Err() == nil {
			d.fail(it.Path, err)
		}
		return decoded{}, false
	}
	// From here on the work is CPU: hashing, decoding, resizing, packing.
	if err := d.cpu.acquire(d.ctx, 1); err != nil {
		return decoded{}, false
	}
	cpuHeld, since := true, time.Now()
	releaseCPU := func() {
		d.cpu.release(1)
		d.busy.Add(int64(time.Since(since)))
		cpuHeld = false
	}
	defer func() {
		if cpuHeld {
			releaseCPU()
		}
	}()
	h := sha256.Sum256(data)
	sha := hex.EncodeToString(h[:])

	st := d.st
	st.mu.Lock()
	if st.done.Has(it.Path, sha) {
		st.resumed++
		st.mu.Unlock()
		d.bar.Add(1)
		return decoded{}, false
	}
	if c, ok := st.known[sha]; ok {
		switch {
		case c.failed != nil:
			st.mu.Unlock()
			d.fail(it.Path, c.failed)
		case c.onDisk:
			st.late[sha] = append(st.late[sha], it.Path)
			st.dups++
			st.mu.Unlock()
			d.bar.Add(1)
		default:
			c.waiters = append(c.waiters, it.Path)
			st.mu.Unlock()
		}
		return decoded{}, false
	}
	st.known[sha] = &content{}
	st.mu.Unlock()

	spec := d.cfg.Model.Spec.Input
	w, h2 := spec.Width(), spec.Height()
	reserveDecode := func(n int64) error {
		// The decode needs n more while the file's bytes are alive. Waiting
		// for it while holding the file's share could deadlock the workers
		// (each holding a file, none able to decode), so that share is
		// given back and the total asked for at once.
		total := n + int64(len(data))
		d.budget.Release(held)
		held = 0
		// Nor may a decode waiting for memory keep a CPU slot from others.
		releaseCPU()
		if err := d.budget.Acquire(d.ctx, total); err != nil {
			return err
		}
		held = total
		if err := d.cpu.acquire(d.ctx, 1); err != nil {
			return err
		}
		cpuHeld, since = true, time.Now()
		return nil
	}
	img, info, err := d.dec.Decode(data, imageio.DecodeOptions{MaxPixels: d.cfg.MaxPixels, MinW: w, MinH: h2, Resize: d.cfg.Resize, Reserve: reserveDecode})
	if err == nil {
		d.fit = imageio.Fit(d.fit, img, w, h2, d.cfg.Resize, d.fill)
	}
	d.dec.Trim(d.keep)
	if err != nil {
		if d.ctx.Err() != nil {
			return decoded{}, false // stopped while waiting for memory: not the file's fault
		}
		d.failContent(it.Path, sha, err)
		return decoded{}, false
	}
	buf := d.pool.Get().([]float32)
	d.tensor.Pack(buf, d.fit)
	return decoded{item: it, sha: sha, w: int32(info.Width), h: int32(info.Height), tensor: buf}, true
}

// failContent reports a decoding failure for this path and for every
// identical file waiting on it.
func (d *decoder) failContent(path, sha string, err error) {
	d.st.mu.Lock()
	c := d.st.known[sha]
	c.failed = err
	waiters := c.waiters
	c.waiters = nil
	d.st.mu.Unlock()
	d.fail(path, err)
	for _, w := range waiters {
		d.fail(w, err)
	}
}

func (d *decoder) fail(path string, err error) {
	d.errs.report(path, err)
	d.bar.Add(1)
}

func tensorSpec(in backbone.InputSpec) imageio.TensorSpec {
	return imageio.TensorSpec{Layout: strings.ToUpper(in.Layout), Channels: strings.ToUpper(in.Channels),
		Scale: in.Scale, Mean: in.Mean, Std: in.Std}
}

// readFile reads a whole file into buf if it is large enough, else into a
// new slice, refusing huge ones before reading them and calling reserve
// with the size first. Only regular files are read: open(2) on a FIFO
// blocks until a writer appears and a device can stream forever, so the
// path is checked before opening, opened non-blocking (a FIFO then opens
// at once), and the opened file checked again, in case the path was
// swapped in between.
func readFile(path string, max int64, reserve func(size int64) error, buf []byte) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, notRegular(path, st.Mode())
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, notRegular(path, st.Mode())
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", errFileTooLarge, st.Size(), max)
	}
	if err := reserve(st.Size()); err != nil {
		return nil, err
	}
	var data []byte
	if int64(cap(buf)) >= st.Size() {
		data = buf[:st.Size()]
	} else {
		data = make([]byte, st.Size())
	}
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	return data, nil
}

// ErrNotRegular is the error for a path that is a FIFO, device, socket or
// folder where an image file was expected.
var ErrNotRegular = errors.New("not a regular file")

func notRegular(path string, m os.FileMode) error {
	what := "special file"
	switch {
	case m&os.ModeNamedPipe != 0:
		what = "named pipe (FIFO)"
	case m&os.ModeSocket != 0:
		what = "socket"
	case m&os.ModeCharDevice != 0:
		what = "character device"
	case m&os.ModeDevice != 0:
		what = "block device"
	case m.IsDir():
		what = "folder"
	}
	return fmt.Errorf("%w: a %s", ErrNotRegular, what)
}

// inferer owns the backbone and the output: its lanes batch decoded images,
// run them and write the rows.
type inferer struct {
	cfg  *Config
	st   *state
	pool *sync.Pool
	errs *errorLog
	ctx  context.Context
	cpu  *slots
	// threads: ONNX Runtime threads of one call, the slots it takes.
	threads int
	busy    *atomic.Int64 // thread nanoseconds in inference calls
	mu      sync.Mutex    // guards chunks and the order of rows and progress
	chunks  *chunker
	bar     *progress.Bar
	// abandoned: an inference call was left running (Config.Abandon).
	abandoned atomic.Bool
}

// lane is one inference call's worth of buffers; Layout says how many run
// at once.
type lane struct {
	*inferer
	input []float32
	batch []decoded
	feats []float32
}

func (f *lane) loop(ctx context.Context, ready <-chan decoded) error {
	for {
		var d decoded
		var ok bool
		// Waiting for the decoders can take seconds (a 100-megapixel PNG);
		// a signal must not wait for them.
		select {
		case d, ok = <-ready:
		case <-ctx.Done():
			return nil
		}
		if ok {
			f.batch = append(f.batch, d)
		}
		// Run full batches; the last, partial one when the decoders are done.
		if len(f.batch) == f.cfg.Batch || (!ok && len(f.batch) > 0) {
			if err := f.run(); err != nil {
				return err
			}
		}
		if !ok {
			return nil
		}
		f.mu.Lock()
		err := f.chunks.maybeRotate()
		f.mu.Unlock()
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// firstError is the error that ended the run: a lane's own failure rather
// than the cancellation it caused in the others.
func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// infer runs the batch's input through the model into f.feats, holding
// its CPU slots only for the call.
func (f *lane) infer() error {
	if err := f.cpu.acquire(f.ctx, f.threads); err != nil {
		return err
	}
	defer f.cpu.release(f.threads)
	start := time.Now()
	defer func() { f.busy.Add(int64(time.Since(start)) * int64(max(f.threads, 1))) }()
	if !f.cfg.Abandon {
		var err error
		f.feats, err = f.cfg.Model.Run(f.feats[:0], f.input, len(f.batch))
		return err
	}
	// One inference call can take seconds on a loaded machine, and ONNX
	// Runtime cannot be interrupted: a signal is answered at once and the
	// call is left to finish on its own goroutine, with buffers nobody
	// touches again.
	type result struct {
		feats []float32
		err   error
	}
	done := make(chan result, 1)
	input, n := f.input, len(f.batch)
	go func() {
		feats, err := f.cfg.Model.Run(f.feats[:0], input, n)
		done <- result{feats, err}
	}()
	select {
	case r := <-done:
		f.feats = r.feats
		return r.err
	case <-f.ctx.Done():
		f.input, f.feats = nil, nil
		f.abandoned.Store(true)
		return f.ctx.Err()
	}
}

func (f *lane) run() error {
	f.input = f.input[:0]
	for _, d := range f.batch {
		f.input = append(f.input, d.tensor...)
		f.pool.Put(d.tensor)
	}
	if err := f.infer(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	dim := f.cfg.Model.Dim()
	rows := make([]featstore.Row, 0, len(f.batch))
	type failure struct {
		paths []string
		err   error
	}
	var failed []failure
	f.st.mu.Lock()
	for i, d := range f.batch {
		feat := f.feats[i*dim : (i+1)*dim : (i+1)*dim]
		c := f.st.known[d.sha]
		if j := firstNonFinite(feat); j >= 0 {
			// A preprocessing that divides by a tiny --std, or an image that
			// drives the network to overflow, spoils this image's row only.
			err := fmt.Errorf("%w: feature %d is %v", ErrNonFinite, j, feat[j])
			c.failed = err
			failed = append(failed, failure{append([]string{d.item.Path}, c.waiters...), err})
			c.waiters = nil
			continue
		}
		rows = append(rows, featstore.Row{Path: d.item.Path, SHA256: d.sha, Width: d.w, Height: d.h, Features: feat})
		for _, w := range c.waiters {
			rows = append(rows, featstore.Row{Path: w, SHA256: d.sha, Width: d.w, Height: d.h, Features: feat})
		}
		f.st.ok++
		f.st.dups += len(c.waiters)
		c.waiters, c.onDisk = nil, true
	}
	f.st.mu.Unlock()
	for _, fl := range failed {
		for _, p := range fl.paths {
			f.errs.report(p, fl.err)
			f.bar.Add(1)
		}
	}
	if len(rows) > 0 {
		if err := f.chunks.write(rows); err != nil {
			return err
		}
	}
	f.bar.Add(len(rows))
	f.batch = f.batch[:0]
	return nil
}

// chunker writes rows into a sequence of complete chunk files.
type chunker struct {
	out   string
	meta  featstore.Meta
	every time.Duration
	rows  int

	w      *featstore.Writer
	opened time.Time
}

func (c *chunker) write(rows []featstore.Row) error {
	if c.w == nil {
		w, err := featstore.CreatePart(c.out, c.meta)
		if err != nil {
			return err
		}
		c.w, c.opened = w, time.Now()
	}
	if err := c.w.Write(rows...); err != nil {
		return err
	}
	if int(c.w.NumRows()) >= c.rows {
		return c.close()
	}
	return nil
}

func (c *chunker) maybeRotate() error {
	if c.w != nil && time.Since(c.opened) >= c.every {
		return c.close()
	}
	return nil
}

func (c *chunker) close() error {
	if c.w == nil {
		return nil
	}
	err := c.w.Close()
	c.w = nil
	return err
}

// finish writes the rows of late duplicates (identical to content already on
// disk) as one more chunk, then folds OUT and every chunk into a new OUT.
func finish(out string, meta featstore.Meta, late map[string][]string) error {
	if len(late) > 0 {
		parts, err := featstore.Parts(out)
		if err != nil {
			return err
		}
		rows, err := lateRows(append(parts, out), late)
		if err != nil {
			return err
		}
		c := &chunker{out: out, meta: meta, rows: len(rows) + 1}
		if err := c.write(rows); err != nil {
			return err
		}
		if err := c.close(); err != nil {
			return err
		}
	}
	return featstore.Consolidate(out, meta, nil)
}

// lateRows streams the files once and copies the features of each wanted
// content to every path that asked for it. Memory is bounded by the number of
// duplicates, not by the dataset.
func lateRows(files []string, late map[string][]string) ([]featstore.Row, error) {
	var rows []featstore.Row
	for _, f := range files {
		r, err := featstore.Open(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for len(late) > 0 {
			row, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Close()
				return nil, err
			}
			for _, p := range late[row.SHA256] {
				rows = append(rows, featstore.Row{Path: p, SHA256: row.SHA256, Width: row.Width, Height: row.Height,
					Features: append([]float32(nil), row.Features...)})
			}
			delete(late, row.SHA256)
		}
		r.Close()
	}
	if len(late) > 0 {
		return nil, fmt.Errorf("featurize: internal error: %d duplicate contents not found on disk", len(late))
	}
	return rows, nil
}
