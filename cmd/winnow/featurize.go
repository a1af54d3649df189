package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/featurize"
	"github.com/winnowml/winnow/internal/fetch"
	"github.com/winnowml/winnow/internal/imageio"
	"github.com/winnowml/winnow/internal/imageset"
	"github.com/winnowml/winnow/internal/outfile"
	"github.com/winnowml/winnow/internal/progress"
)

type featurizeFlags struct {
	runFlags
	out, model, resize, errors string
	strict, quiet              bool

	shard            string
	shards           int
	fetchConcurrency int
	fetchRetries     int
	fetchTimeout     time.Duration

	// Spec fields, for models without a sidecar or to override it.
	inputName, outputName, layout, size, channels string
	scale                                         float32
	mean, std                                     []float32
}

func newFeaturizeCmd(g *globals) *cobra.Command {
	f := &featurizeFlags{}
	cmd := &cobra.Command{
		Use:   "featurize SOURCE -o OUT.parquet [--model NAME|MODEL.onnx]",
		Short: "Turn images into feature vectors with a pretrained backbone",
		Long: `featurize runs every image of SOURCE through a backbone and writes one row per
image to a Parquet file: path, sha256, width, height, features (float32 list).

SOURCE is a folder (searched recursively for .jpg .jpeg .png .gif .bmp .tif
.tiff .webp, in any case) or a manifest: a text file with one path per line, or
a CSV with a "path" column. Relative manifest paths are relative to the manifest.
A manifest may also list http://, https:// and s3://bucket/key entries, which
are downloaded (S3 endpoint and keys from AWS_ENDPOINT_URL, AWS_REGION,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).

--shard I/N (or auto on a Kubernetes Indexed Job or Slurm array) featurizes
the images whose path hashes to shard I into -o DIR/part-I-of-N.parquet; then
"winnow features merge DIR -o ALL.parquet" checks and joins the shards.

--model is a built-in backbone (winnow backbone list) or an ONNX file whose
preprocessing comes from the sidecar MODEL.onnx.json:
  {"name":"resnet18","input":{"name":"input","layout":"NCHW","size":[224,224],
   "channels":"RGB","scale":255,"mean":[0.485,0.456,0.406],
   "std":[0.229,0.224,0.225]},"output":"features"}
(a pixel v becomes (v/scale - mean)/std; size is [height, width]), or from the
flags --layout --size --channels --scale --mean --std --input-name --output-name,
which also override the sidecar.

Bad files (empty, truncated, not an image, unsupported, unreadable, larger than
--max-pixels) are skipped and reported, never fatal. Identical files are computed
once. Rerunning with the same OUT resumes: paths already there with the same
sha256 are skipped, and a killed run loses at most its last few seconds.`,
		Example: `  winnow featurize photos/ -o features.parquet --model resnet18.onnx
  winnow featurize list.csv -o features.parquet --model m.onnx --errors bad.jsonl --resize crop`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runFeaturize(cmd, g, f, args[0]) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "output", "o", "", "Parquet file to write (required); an existing one is resumed")
	fl.StringVar(&f.model, "model", backbone.DefaultName(), "backbone `NAME|FILE`: a built-in name (see winnow backbone list) or an ONNX file with its sidecar FILE.json")
	fl.StringVar(&f.resize, "resize", "pad", "fit images to the model input: pad (keep aspect, pad with the mean colour), crop (centre crop), stretch")
	fl.StringVar(&f.errors, "errors", "", "write skipped files as JSON lines {\"path\",\"error\",\"kind\"} to this file (default: stderr)")
	fl.BoolVar(&f.strict, "strict", false, "exit with status 1 if any file was skipped")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress output (the final summary is still printed)")
	f.runFlags.register(fl)
	fl.StringVar(&f.shard, "shard", "", "featurize only shard I of N of SOURCE (I/N, or auto: JOB_COMPLETION_INDEX with --shards, or SLURM_ARRAY_TASK_ID/COUNT); -o is then a folder and gets part-I-of-N.parquet and part-I-of-N.errors.jsonl")
	fl.IntVar(&f.shards, "shards", 0, "number of shards N for --shard auto under a Kubernetes Indexed Job (its completions)")
	fl.IntVar(&f.fetchConcurrency, "fetch-concurrency", 16, "downloads in flight for URL and s3:// entries")
	fl.DurationVar(&f.fetchTimeout, "fetch-timeout", 60*time.Second, "time allowed for one download attempt")
	fl.IntVar(&f.fetchRetries, "fetch-retries", 3, "retries of a download after a 5xx, timeout or connection error (never after a 4xx)")
	fl.StringVar(&f.inputName, "input-name", "", "graph input to feed (sidecar input.name)")
	fl.StringVar(&f.outputName, "output-name", "", "graph output to use as features (sidecar output)")
	fl.StringVar(&f.layout, "layout", "", "input layout: NCHW or NHWC (sidecar input.layout)")
	fl.StringVar(&f.size, "size", "", "input size HxW, e.g. 224x224 (sidecar input.size)")
	fl.StringVar(&f.channels, "channels", "", "RGB, BGR or L (sidecar input.channels)")
	fl.Float32Var(&f.scale, "scale", 0, "divide 0..255 pixels by this before mean/std, e.g. 255 (sidecar input.scale)")
	fl.Float32SliceVar(&f.mean, "mean", nil, "per-channel mean after scaling, e.g. 0.485,0.456,0.406")
	fl.Float32SliceVar(&f.std, "std", nil, "per-channel standard deviation, e.g. 0.229,0.224,0.225")
	return cmd
}

// spec overrides the backbone's spec (from its sidecar, or built in) with
// any flag given.
func (f *featurizeFlags) spec(cmd *cobra.Command, spec backbone.Spec) (backbone.Spec, error) {
	set := cmd.Flags().Changed
	if set("input-name") {
		spec.Input.Name = f.inputName
	}
	if set("output-name") {
		spec.Output = f.outputName
	}
	if set("layout") {
		spec.Input.Layout = f.layout
	}
	if set("size") {
		h, w, ok := strings.Cut(strings.ToLower(f.size), "x")
		hi, err1 := strconv.Atoi(h)
		wi, err2 := strconv.Atoi(w)
		if !ok || err1 != nil || err2 != nil {
			return spec, fmt.Errorf("--size %q: want HEIGHTxWIDTH, e.g. 224x224", f.size)
		}
		spec.Input.Size = []int{hi, wi}
	}
	if set("channels") {
		spec.Input.Channels = f.channels
	}
	if set("scale") {
		spec.Input.Scale = f.scale
	}
	if set("mean") {
		spec.Input.Mean = f.mean
	}
	if set("std") {
		spec.Input.Std = f.std
	}
	if err := spec.Validate(); err != nil {
		if _, statErr := os.Stat(backbone.SidecarPath(f.model)); statErr != nil && strings.HasSuffix(f.model, ".onnx") {
			return spec, fmt.Errorf("%w\n(no sidecar %s: write one, or give the flags)", err, backbone.SidecarPath(f.model))
		}
		return spec, err
	}
	return spec, nil
}

func runFeaturize(cmd *cobra.Command, g *globals, f *featurizeFlags, source string) error {
	if f.out == "" {
		return fmt.Errorf("featurize: -o OUT.parquet is required")
	}
	var shard *shardSpec
	if f.shard != "" {
		s, err := parseShard(f.shard, f.shards, os.Getenv)
		if err != nil {
			return usageError("%v", err)
		}
		if err := shardDir(f.out); err != nil {
			return err
		}
		shard = &s
		dir := f.out
		f.out = featstore.ShardFile(dir, s.index, s.count)
		if f.errors == "" {
			// merge needs each shard's failures to tell them from lost images.
			f.errors = featstore.ShardErrorsFile(dir, s.index, s.count)
		}
	}
	maxMemory, err := f.runFlags.check()
	if err != nil {
		return err
	}
	mode, err := imageio.ParseResizeMode(f.resize)
	if err != nil {
		return err
	}
	data, where, spec, err := backbone.Resolve(f.model)
	if err != nil {
		return err
	}
	if spec, err = f.spec(cmd, spec); err != nil {
		return err
	}
	in := files{}.add("SOURCE", source)
	if st, err := os.Stat(f.model); err == nil && st.Mode().IsRegular() {
		in = in.add("--model", f.model, backbone.SidecarPath(f.model))
	}
	outs := files{}.add("-o", f.out).add("--errors", f.errors)
	if err := refuseOverwrite(in, outs); err != nil {
		return err
	}
	items, err := imageset.List(source)
	if err != nil {
		return err
	}
	if err := refuseOverwriteImages(items, outs); err != nil {
		return err
	}
	if shard != nil {
		listed := len(items)
		items = imageset.InShard(items, shard.index, shard.count)
		fmt.Fprintf(cmd.ErrOrStderr(), "featurize: shard %d of %d: %d of %d images, into %s\n", shard.index, shard.count, len(items), listed, printable(f.out, false))
	}
	if len(items) == 0 && shard == nil {
		return fmt.Errorf("featurize: no images in %s (looked for %s)", source, strings.Join(imageset.Extensions, " "))
	}
	model, closeModel, err := f.runFlags.openModel(cmd, g.ortLib, data, where, spec)
	if err != nil {
		return err
	}
	defer closeModel()

	stderr := cmd.ErrOrStderr()
	sum, runErr := runFeatures(cmd, "featurize", items, f.out, f.errors, f.quiet, f.runFlags.config(model, mode, maxMemory, featurize.Config{
		Fetcher: fetch.New(fetch.Config{Concurrency: f.fetchConcurrency, Timeout: f.fetchTimeout, Retries: retries(f.fetchRetries)}),
	}), func(sum featurize.Summary) error {
		if shard != nil && sum.OK+sum.Duplicates+sum.Resumed == 0 {
			// A shard with no image (or none readable) still says so with a
			// file, or merge could not tell it from a shard never run.
			return writeEmpty(f.out, (&featurize.Config{Model: model, Resize: mode, Version: version}).Meta())
		}
		return nil
	})
	if sum.Repeated > 0 {
		fmt.Fprintf(stderr, "featurize: %d paths were listed more than once; each got one row\n", sum.Repeated)
	}
	if runErr != nil {
		return runErr
	}
	if sum.Failed > 0 && f.errors != "" {
		fmt.Fprintf(stderr, "featurize: %d skipped files are listed in %s\n", sum.Failed, f.errors)
	}
	switch {
	case sum.OK+sum.Duplicates > 0:
		fmt.Fprintf(stderr, "featurize: wrote %s (%s, %d features per image)\n", printable(f.out, false), model.Spec.Name, model.Dim())
	case sum.Resumed > 0:
		fmt.Fprintf(stderr, "featurize: %s already had every image that could be read; left as it was\n", printable(f.out, false))
	}
	switch {
	case sum.Succeeded() == 0 && (shard == nil || sum.Listed > 0):
		return exitError{code: 1, msg: "no image could be featurized"}
	case f.strict && sum.Failed > 0:
		return exitError{code: 1, msg: fmt.Sprintf("--strict: %d files were skipped", sum.Failed)}
	}
	return nil
}

// retries maps --fetch-retries to fetch.Config, where 0 means the default.
func retries(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func writeEmpty(path string, m featstore.Meta) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	w, err := featstore.Create(path, m)
	if err != nil {
		return err
	}
	return w.Close()
}

// refuseOverwriteImages stops an output from landing on one of the images
// it is made from (featurize photos/ -o photos/cat.jpg). A manifest can list
// millions of images, so only an image whose base name is an output's is
// compared as a file.
func refuseOverwriteImages(items []imageset.Item, outs files) error {
	byBase := map[string][]outfile.Named{}
	for _, o := range outs {
		if o.Path != "" && o.Path != "-" {
			byBase[filepath.Base(o.Path)] = append(byBase[filepath.Base(o.Path)], o)
		}
	}
	for _, it := range items {
		for _, o := range byBase[filepath.Base(it.File)] {
			if outfile.Check(files{}.add("SOURCE", it.File), files{o}) != nil {
				return exitError{code: 2, msg: fmt.Sprintf("%s %s is one of the images to featurize (SOURCE lists it as %q): refusing to overwrite it (choose another %s)", o.Flag, o.Path, it.Path, o.Flag)}
			}
		}
	}
	return nil
}

// runFlags are the flags featurize and classify share: how a run uses the
// machine.
type runFlags struct {
	batch, threads, workers int
	checkpointRows          int
	maxPixels               int64
	maxMemory               string
}

func (r *runFlags) register(fl *pflag.FlagSet) {
	fl.IntVar(&r.batch, "batch", 8, "images per inference call (larger batches are no faster on CPU and hold more of ONNX Runtime's memory)")
	fl.IntVar(&r.threads, "threads", runtime.NumCPU(), "threads decoding and inference keep busy together: up to 4 batches run at once, one ONNX Runtime thread each, and decoders take whichever threads are free")
	fl.IntVar(&r.workers, "workers", runtime.NumCPU(), "image decoding goroutines (they share --threads with inference; more than --threads only helps when reading is slow)")
	fl.IntVar(&r.checkpointRows, "checkpoint-rows", 4096, "make progress durable every this many rows (and every 30 s)")
	fl.Int64Var(&r.maxPixels, "max-pixels", 100_000_000, "skip images whose header claims more pixels than this")
	fl.StringVar(&r.maxMemory, "max-memory", "1GiB", "resident memory of the run apart from the model (e.g. 512MiB, 2GiB): decodes in flight share what ONNX Runtime and buffers leave, each reserving width x height x 4 bytes or more before it starts")
}

// check validates the flags before any work and returns --max-memory in
// bytes.
func (r *runFlags) check() (int64, error) {
	maxMemory, err := parseBytes(r.maxMemory)
	if err != nil {
		return 0, usageError("--max-memory %q: %v", r.maxMemory, err)
	}
	return maxMemory, firstError(
		intAtLeast("--batch", r.batch, 1),
		intAtLeast("--threads", r.threads, 1),
		intAtLeast("--workers", r.workers, 1),
		intAtLeast("--checkpoint-rows", r.checkpointRows, 1),
		int64Between("--max-pixels", r.maxPixels, 1, imageio.HardMaxPixels),
		int64Between("--max-memory", maxMemory, 16<<20, 1<<50),
	)
}

// openModel opens the backbone with the sessions --threads needs. The
// returned close leaves the model open after a signal: an inference call
// may then still be running (featurize.Config.Abandon), closing the
// session under it would crash, and the process exits anyway.
func (r *runFlags) openModel(cmd *cobra.Command, ortLib string, data []byte, where string, spec backbone.Spec) (*backbone.Model, func(), error) {
	if err := backbone.Init(ortLib); err != nil {
		return nil, nil, err
	}
	model, err := backbone.OpenData(data, where, spec, featurize.ModelOptions(r.threads))
	if err != nil {
		return nil, nil, err
	}
	return model, func() {
		if cmd.Context().Err() == nil {
			model.Close()
		}
	}, nil
}

// config fills cfg's fields that these flags set.
func (r *runFlags) config(model *backbone.Model, resize imageio.ResizeMode, maxMemory int64, cfg featurize.Config) featurize.Config {
	cfg.Model, cfg.Resize, cfg.MaxMemory = model, resize, maxMemory
	cfg.Batch, cfg.Workers, cfg.Threads = r.batch, r.workers, r.threads
	cfg.MaxPixels, cfg.ChunkRows = r.maxPixels, r.checkpointRows
	return cfg
}

// runFeatures is what featurize and classify share around featurize.Run:
// the errors file (like every output, it appears only when the run
// completes; a resumed run retries the failed files and lists them again),
// the progress mode, the summary line, and what an interruption left
// behind. done runs after a successful run, before the errors file commits.
func runFeatures(cmd *cobra.Command, verb string, items []imageset.Item, out, errorsPath string, quiet bool,
	cfg featurize.Config, done func(featurize.Summary) error) (featurize.Summary, error) {
	stderr := cmd.ErrOrStderr()
	var errw io.Writer = &stderrErrors{w: stderr, tty: progress.IsTerminal(stderr)}
	var errFile *outfile.Temp
	var errBuf *bufio.Writer
	if errorsPath != "" {
		var err error
		if errFile, err = outfile.Create(errorsPath); err != nil {
			return featurize.Summary{}, err
		}
		defer errFile.Abort()
		errBuf = bufio.NewWriter(errFile)
		errw = errBuf
	}
	cfg.Errors, cfg.Log, cfg.Progress, cfg.Version, cfg.Abandon = errw, stderr, progress.Auto, version, true
	if quiet {
		cfg.Progress = progress.Quiet
	}
	sum, err := featurize.Run(cmd.Context(), items, out, cfg)
	if err == nil && done != nil {
		err = done(sum)
	}
	fmt.Fprintf(stderr, "%s: %s\n", verb, sum)
	if err == nil && errFile != nil {
		if err = errBuf.Flush(); err == nil {
			err = errFile.Commit()
		}
	}
	if err != nil && cmd.Context().Err() != nil {
		if parts, _ := featstore.Parts(out); len(parts) > 0 {
			return sum, fmt.Errorf("interrupted; finished chunks are kept in %s, run the same command again to resume", featstore.PartsDir(out))
		}
		return sum, fmt.Errorf("interrupted before any chunk was finished; %s was not written", out)
	}
	return sum, err
}

// stderrErrors turns the JSON error records into readable lines when no
// --errors file was given.
type stderrErrors struct {
	w   io.Writer
	tty bool // w is a terminal: the line may clear the progress bar
}

func (s *stderrErrors) Write(p []byte) (int, error) {
	var rec struct{ Path, Error string }
	if json.Unmarshal(p, &rec) != nil {
		return s.w.Write(p)
	}
	if s.tty {
		// Over the progress bar's line, which the next redraw restores.
		fmt.Fprintf(s.w, "\rskipped %s: %s\x1b[K\n", printable(rec.Path, false), printable(rec.Error, false))
	} else {
		fmt.Fprintf(s.w, "skipped %s: %s\n", printable(rec.Path, false), printable(rec.Error, false))
	}
	return len(p), nil
}

// parseBytes reads a size such as 1GiB, 512MiB, 300MB, 2G or 1073741824.
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') && t[i-1] != '.' {
		i--
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult := map[string]float64{"": 1, "b": 1,
		"k": 1 << 10, "kib": 1 << 10, "kb": 1e3, "m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
		"g": 1 << 30, "gib": 1 << 30, "gb": 1e9, "t": 1 << 40, "tib": 1 << 40, "tb": 1e12}[unit]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || v < 0 || v*mult >= 1<<62 {
		return 0, fmt.Errorf("want a size such as 512MiB, 2GiB or a number of bytes")
	}
	return int64(v * mult), nil
}
