package project

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/featurize"
	"github.com/winnowml/winnow/internal/imageio"
	"github.com/winnowml/winnow/internal/imageset"
	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/plural"
	"github.com/winnowml/winnow/internal/progress"
)

// InitOptions are winnow init's inputs.
type InitOptions struct {
	Images   string  // image folder or manifest (as for featurize)
	Classes  []Class // at least two
	Backbone string  // built-in name or ONNX file; "" = the default backbone
	Gold     string  // CSV of gold labels (path, label), "" for none
	// GoldLabelColumn is the label column of Gold (default "label").
	GoldLabelColumn string
	Title, About    string
	Strategy        string // "" = the default
	Batch           int    // 0 = the default
	Seed            uint64 // 0 = the default
	// PracticePageSize and PracticeMaxItems are [practice] page_size and
	// max_items (0 = the default).
	PracticePageSize, PracticeMaxItems int

	// How to featurize.
	ORTLib           string // ONNX Runtime library, "" to search
	Threads, Workers int    // 0 = defaults
	Log              io.Writer
	Progress         progress.Mode
}

// ErrExists is returned by Init for a folder that is already an initialised
// project.
var ErrExists = errors.New("already a winnow project")

// Init creates a project in dir (or finishes one whose init was
// interrupted): it writes winnow.toml, featurizes the images into
// features/ (resumable, as winnow featurize), registers them in winnow.db,
// imports the gold labels and splits them into practice and test (at most
// [practice] max_items practice items), says how many practice pages a
// participant will do (with a warning above MaxPracticePages), trains on
// the practice gold labels if at least two classes have some, and selects
// the first batch (with the project's strategy when there is a model, a
// seeded random sample otherwise) as round 1.
func Init(ctx context.Context, dir string, opt InitOptions) (_ *Project, err error) {
	logw := opt.Log
	if logw == nil {
		logw = io.Discard
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(abs, ConfigFile)
	var cfg Config
	resuming := false
	if _, err := os.Stat(cfgPath); err == nil {
		// A config without a round is an init that stopped half-way: take
		// up where it stopped, with the settings it wrote.
		if cfg, err = LoadConfig(cfgPath); err != nil {
			return nil, err
		}
		p, err := open(abs, cfg, openCreate)
		if err != nil {
			return nil, err
		}
		rounds, err := p.store.Rounds(ctx)
		p.Close()
		if err != nil {
			return nil, err
		}
		if len(rounds) > 0 {
			return nil, fmt.Errorf("%s: %w (%d rounds); use winnow import-labels, status, serve or round close on it", dir, ErrExists, len(rounds))
		}
		if want, err := newConfig(abs, opt); err == nil {
			if diff := resumeConflict(cfg, want); diff != "" {
				return nil, fmt.Errorf("%s is from an unfinished init with other settings (%s): run init with the same flags to resume, or delete %s to start over", cfgPath, diff, dir)
			}
		}
		if err := checkInputs(ctx, cfg, abs, opt); err != nil {
			return nil, err
		}
		resuming = true
		fmt.Fprintf(logw, "init: resuming the unfinished init of %s with the settings in %s\n", dir, cfgPath)
	} else {
		if cfg, err = newConfig(abs, opt); err != nil {
			return nil, err
		}
		// Every input is checked before anything is written: a bad gold
		// file or an empty image folder must not leave a half project
		// that the corrected command would refuse.
		if err := checkInputs(ctx, cfg, abs, opt); err != nil {
			return nil, err
		}
	}
	// From here on, a failure removes what this init created, so that the
	// corrected command starts afresh; an interruption keeps it, to resume.
	undo, err := newCreated(abs)
	if err != nil {
		return nil, err
	}
	var p *Project
	defer func() {
		if err == nil {
			return
		}
		if p != nil {
			p.Close()
		}
		err = undo.finish(ctx, err, resuming, dir)
	}()
	if !resuming {
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, err
		}
		data, err := cfg.Render()
		if err != nil {
			return nil, err
		}
		if err := writeAtomic(cfgPath, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
			return nil, err
		}
		// What is written must read back as what was meant.
		if _, err := LoadConfig(cfgPath); err != nil {
			return nil, fmt.Errorf("init wrote a settings file it cannot read (a bug): %w", err)
		}
	}
	for _, d := range []string{FeaturesDir, LabelsDir, PicksDir, ModelsDir, ReportsDir} {
		if err := ensureDir(filepath.Join(abs, d)); err != nil {
			return nil, err
		}
	}
	if p, err = open(abs, cfg, openCreate); err != nil {
		return nil, err
	}
	if err := p.featurize(ctx, opt, logw); err != nil {
		return nil, err
	}
	n, err := p.registerItems(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logw, "init: %s registered in %s\n", plural.N(n, "image"), DBFile)
	if opt.Gold != "" {
		r, err := p.ImportLabels(ctx, opt.Gold, opt.GoldLabelColumn, true, OnConflictError)
		if err != nil {
			return nil, fmt.Errorf("--gold %s: %w", opt.Gold, err)
		}
		fmt.Fprintf(logw, "init: gold labels from %s: %s\n", opt.Gold, r)
	}
	plan, err := p.PracticePlan(ctx)
	if err != nil {
		return nil, err
	}
	for _, l := range plan.Lines() {
		fmt.Fprintf(logw, "init: %s\n", l)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ds, err := p.consensus(ctx)
	if err != nil {
		return nil, err
	}
	t, err := p.trainAndEvaluate(ctx, 0, ds, func(string, int) {})
	if err != nil {
		return nil, err
	}
	for _, n := range t.notes {
		fmt.Fprintf(logw, "init: %s\n", n)
	}
	if t.model != nil {
		fmt.Fprintf(logw, "init: trained %s on %s\n", t.modelRel, plural.N(t.rows, "labelled image"))
		if m := t.metrics; m != nil && m.TestItems > 0 {
			fmt.Fprintf(logw, "init: on %d gold test items: accuracy %.3f, log loss %.3f, macro AUC %.3f (%s)\n",
				m.TestItems, m.Accuracy, m.LogLoss, m.MacroAUC, m.ReportHTML)
		}
	}
	picks, notes, err := p.selectNext(ctx, 1, ds, t)
	if err != nil {
		return nil, err
	}
	for _, n := range notes {
		fmt.Fprintf(logw, "init: %s\n", n)
	}
	if len(picks) == 0 {
		return nil, fmt.Errorf("init: nothing to select for round 1: every image is labelled")
	}
	r, err := p.store.OpenRound(context.WithoutCancel(ctx), picks)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logw, "init: round %d is open with %s (%s)\n", r.Number, plural.N(len(r.Picks), "image"), picksRel(1))
	return p, nil
}

func newConfig(abs string, opt InitOptions) (Config, error) {
	cfg := DefaultConfig()
	if opt.Images == "" {
		return cfg, errors.New("--images: the image folder or manifest is required")
	}
	img, err := filepath.Abs(opt.Images)
	if err != nil {
		return cfg, err
	}
	if _, err := os.Stat(img); err != nil {
		return cfg, fmt.Errorf("--images: %w", err)
	}
	cfg.Images = img
	cfg.Classes = opt.Classes
	cfg.Backbone = opt.Backbone
	if cfg.Backbone == "" {
		cfg.Backbone = backbone.DefaultName()
	} else if strings.HasSuffix(cfg.Backbone, ".onnx") {
		// A file given relative to where init ran must still be found
		// from the project folder.
		if cfg.Backbone, err = filepath.Abs(cfg.Backbone); err != nil {
			return cfg, err
		}
	}
	if opt.Title != "" {
		cfg.Title = opt.Title
	}
	cfg.About = opt.About
	if cfg.About == "" {
		var names []string
		for _, c := range opt.Classes {
			names = append(names, "**"+c.Name+"**")
		}
		cfg.About = fmt.Sprintf("Help teach a classifier to sort images into %s.\n\n"+
			"First read how to tell the classes apart (Learn), then try a few images whose answers are known (Practice), "+
			"then label the images the model is least sure about (Label). Your answers are saved as you go.", strings.Join(names, ", "))
	}
	if opt.Strategy != "" {
		cfg.Strategy = opt.Strategy
	}
	if opt.Batch > 0 {
		cfg.Batch = opt.Batch
	}
	if opt.Seed != 0 {
		cfg.Seed = opt.Seed
	}
	if opt.PracticePageSize != 0 {
		cfg.Practice.PageSize = opt.PracticePageSize
	}
	if opt.PracticeMaxItems != 0 {
		cfg.Practice.MaxItems = opt.PracticeMaxItems
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("--classes/--strategy/--batch/--practice-page-size/--practice-max-items: %w", err)
	}
	return cfg, nil
}

// featurize runs internal/featurize over the image source exactly as
// `winnow featurize` does; it resumes from whatever an interrupted init left.
func (p *Project) featurize(ctx context.Context, opt InitOptions, logw io.Writer) error {
	src := p.cfg.imageSource(p.dir)
	items, err := imageset.List(src)
	if err != nil {
		return fmt.Errorf("images: %w", err)
	}
	if len(items) == 0 {
		return fmt.Errorf("images: no images in %s (looked for %s)", src, strings.Join(imageset.Extensions, " "))
	}
	data, where, spec, err := backbone.Resolve(p.cfg.Backbone)
	if err != nil {
		return err
	}
	if err := backbone.Init(opt.ORTLib); err != nil {
		return err
	}
	threads := opt.Threads
	if threads <= 0 {
		threads = defaultThreads()
	}
	model, err := backbone.OpenData(data, where, spec, featurize.ModelOptions(threads))
	if err != nil {
		return err
	}
	defer model.Close()
	mode, _ := imageio.ParseResizeMode("pad")
	errPath := filepath.Join(p.dir, FeaturesDir, "errors.jsonl")
	ef, err := os.Create(errPath)
	if err != nil {
		return err
	}
	defer ef.Close()
	bw := bufio.NewWriter(ef)
	defer bw.Flush()
	out := p.path(FeaturesFile)
	sum, runErr := featurize.Run(ctx, items, out, featurize.Config{
		Model: model, Resize: mode, Workers: opt.Workers, Threads: threads, MaxPixels: 100_000_000,
		Errors: bw, Log: logw, Progress: opt.Progress, Version: Version,
	})
	fmt.Fprintf(logw, "init: featurize: %s\n", sum)
	if runErr != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("featurize interrupted (finished chunks are kept in %s): %w", featstore.PartsDir(out), ctx.Err())
		}
		return runErr
	}
	if sum.Failed > 0 {
		fmt.Fprintf(logw, "init: %d images could not be read; they are listed in %s\n", sum.Failed, errPath)
	}
	if sum.Succeeded() == 0 {
		return fmt.Errorf("no image of %s could be featurized (see %s)", src, errPath)
	}
	return nil
}

// registerItems adds every row of the feature file to the database.
func (p *Project) registerItems(ctx context.Context) (int, error) {
	r, err := featstore.Open(p.path(FeaturesFile))
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var items []labelstore.Item
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
		items = append(items, labelstore.Item{Path: row.Path, SHA256: row.SHA256})
	}
	if _, err := p.store.AddItems(ctx, items); err != nil {
		return 0, err
	}
	return len(items), nil
}

func defaultThreads() int { return runtime.NumCPU() }

// resumeConflict names the settings in which an unfinished init's file
// differs from what this init was asked for, "" if none: resuming with
// another image folder, backbone or classes would mix two projects.
func resumeConflict(have, want Config) string {
	var diffs []string
	if have.Images != want.Images {
		diffs = append(diffs, fmt.Sprintf("images %s, not %s", have.Images, want.Images))
	}
	if have.Backbone != want.Backbone {
		diffs = append(diffs, fmt.Sprintf("backbone %s, not %s", have.Backbone, want.Backbone))
	}
	if !slices.Equal(have.ClassNames(), want.ClassNames()) {
		diffs = append(diffs, fmt.Sprintf("classes %s, not %s", strings.Join(have.ClassNames(), ","), strings.Join(want.ClassNames(), ",")))
	}
	return strings.Join(diffs, "; ")
}
