package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/classify"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/featurize"
	"github.com/winnowml/winnow/internal/imageset"
	"github.com/winnowml/winnow/internal/outfile"
)

type classifyFlags struct {
	runFlags
	model, out, cache, backbone, errors string
	labels, labelColumn                 string
	noveltyCut                          string
	threshold, target                   float64
	classTargets                        []string
	strict, quiet                       bool
}

func newClassifyCmd(g *globals) *cobra.Command {
	f := &classifyFlags{}
	cmd := &cobra.Command{
		Use:   "classify --model M SOURCE -o preds.csv",
		Short: "Classify images with a trained model: featurize with the model's own backbone, then apply its head",
		Long: `classify runs every image of SOURCE (a folder, a manifest or a CSV with a
"path" column, as featurize takes) through the backbone the model was trained
on, preprocessed as its training features were, and writes one row per image:
  path, predicted, p_<class>... (model's class order), max_prob, entropy (bits)
the same columns as predict. The backbone is found from the name the model
records (or --backbone FILE.onnx) and must be the very file (same sha256); a
model trained on CSV features, which record no backbone, is refused.

The features go to a cache, --cache (default OUT.features.parquet), which
featurize writes: the same bad-file rules (skipped and reported, never
fatal), progress, and resume. A run that is interrupted or killed picks up
where it stopped when run again with the same -o; a second run on the same
images reuses the cache at once. Delete it when it is no longer wanted.

Triage: --threshold T, or --target-accuracy A, adds a status column: settled
when max_prob reaches the cut, uncertain otherwise, and prints how many
images were settled and how many remain for people. The cut for A is the one
'winnow evaluate --calibrate --target-accuracy A' stored in the model, or is
measured here on --labels (path,label rows of images in SOURCE). With
--class-target CLASS=A2 the rows predicted as CLASS get their own cut: the
lowest confidence at which that class's predictions are right A2 of the time.

Novelty: for a model that keeps its training rows (train does), the novelty
column says how unlike every labelled image an image is (about 1 for images
like them). Above the model's novelty cut (the 0.99 quantile of the training
rows' own novelty, or --novelty-cut) an image is "novel": a photo of another
kind among the images the model knows, whose probabilities mean nothing
however high. A novel image is never settled; its status is novel, and the
summary counts it among those that remain for people.`,
		Example: `  winnow classify --model model.json photos/ -o preds.csv
  winnow classify --model model.json new.csv -o preds.csv --target-accuracy 0.95
  winnow classify --model model.json pile/ -o preds.csv --target-accuracy 0.95 --labels checked.csv --class-target sound=0.99`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runClassify(cmd, g, f, args[0]) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model file written by train (required)")
	fl.StringVarP(&f.out, "output", "o", "", "predictions CSV to write (required)")
	fl.StringVar(&f.cache, "cache", "", "feature cache (Parquet), resumed by a rerun (default: OUT.features.parquet)")
	fl.StringVar(&f.backbone, "backbone", "", "the backbone ONNX file, if not a built-in one (default: the model's recorded backbone)")
	fl.Float64Var(&f.threshold, "threshold", 0, "mark rows with max_prob below this as uncertain")
	fl.Float64Var(&f.target, "target-accuracy", 0, "mark rows below the cut that reaches this accuracy as uncertain (cut from the model's calibration or --labels)")
	fl.StringSliceVar(&f.classTargets, "class-target", nil, "CLASS=ACCURACY: the rows predicted as CLASS get the cut at which its predictions reach this accuracy (repeatable)")
	fl.StringVar(&f.labels, "labels", "", "CSV of path,label for some images of SOURCE: measure the --target-accuracy cut on them")
	fl.StringVar(&f.labelColumn, "label-column", "label", "name of the label column in --labels")
	fl.StringVar(&f.noveltyCut, "novelty-cut", "", "images with a novelty above this are novel, never settled (default: the cut stored in the model; off: none is)")
	fl.StringVar(&f.errors, "errors", "", "write skipped files as JSON lines {\"path\",\"error\",\"kind\"} to this file (default: stderr)")
	fl.BoolVar(&f.strict, "strict", false, "exit with status 1 if any file was skipped")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress output (the final summary is still printed)")
	f.runFlags.register(fl)
	for _, name := range []string{"model", "output"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}

func runClassify(cmd *cobra.Command, g *globals, f *classifyFlags, source string) error {
	set := cmd.Flags().Changed
	maxMemory, err := f.runFlags.check()
	if err != nil {
		return err
	}
	switch {
	case set("threshold") && (set("target-accuracy") || len(f.classTargets) > 0):
		return usageError("--threshold is a cut of its own: give it or --target-accuracy/--class-target, not both")
	case set("threshold"):
		if err := floatBetween("--threshold", f.threshold, 0, 1); err != nil {
			return err
		}
	case set("target-accuracy"):
		if !(f.target > 0 && f.target <= 1) {
			return usageError("--target-accuracy %v: must be in (0, 1]", f.target)
		}
	case len(f.classTargets) > 0:
		return usageError("--class-target needs --target-accuracy (the cut of the other classes)")
	case f.labels != "":
		return usageError("--labels measures the --target-accuracy cut: give --target-accuracy too")
	}
	if f.cache == "" {
		f.cache = f.out + ".features.parquet"
	}
	in := files{}.add("SOURCE", source).add("--model", f.model).add("--labels", f.labels)
	if st, err := os.Stat(f.backbone); err == nil && st.Mode().IsRegular() {
		in = in.add("--backbone", f.backbone, backbone.SidecarPath(f.backbone))
	}
	outs := files{}.add("-o", f.out).add("--cache", f.cache).add("--errors", f.errors)
	if err := refuseOverwrite(in, outs); err != nil {
		return err
	}
	mf, err := classifier.Load(f.model)
	if err != nil {
		return err
	}
	if err := setNoveltyCut(mf, f.noveltyCut); err != nil {
		return err
	}
	classes := mf.Model.Classes
	bb, err := classify.ResolveBackbone(mf, f.model, f.backbone)
	if err != nil {
		return err
	}
	classTargets, err := classify.ParseClassTargets(f.classTargets, classes)
	if err != nil {
		return usageError("%v", err)
	}
	// A stored cut is usable only for the targets it was measured for; say
	// so before spending minutes on the images.
	var cut *classify.Cut
	switch {
	case set("threshold"):
		cut = classify.Fixed(f.threshold, len(classes))
	case set("target-accuracy") && f.labels == "":
		cal := mf.Calibration
		if cal == nil {
			return usageError("--target-accuracy %g: %s has no stored cut; run winnow evaluate --calibrate on a labelled test set, or give --labels", f.target, f.model)
		}
		if cal.TargetAccuracy != f.target || !maps.Equal(cal.ClassTargets, classTargets) && len(classTargets) > 0 {
			return usageError("--target-accuracy %g: %s stores the cut for target %g%s; calibrate it again for this target, or give --labels",
				f.target, f.model, cal.TargetAccuracy, classTargetText(cal.ClassTargets))
		}
		cut = classify.FromCalibration(cal, classes)
	}

	items, err := imageset.List(source)
	if err != nil {
		return err
	}
	if err := refuseOverwriteImages(items, outs); err != nil {
		return err
	}
	if len(items) == 0 {
		return fmt.Errorf("classify: no images in %s (looked for %s)", source, strings.Join(imageset.Extensions, " "))
	}
	model, closeModel, err := f.runFlags.openModel(cmd, g.ortLib, bb.Data, bb.Where, bb.Spec)
	if err != nil {
		return err
	}
	defer closeModel()

	stderr := cmd.ErrOrStderr()
	sum, err := runFeatures(cmd, "classify: features", items, f.cache, f.errors, f.quiet, f.runFlags.config(model, bb.Resize, maxMemory, featurize.Config{}), nil)
	if err != nil {
		return err
	}
	if sum.Succeeded() == 0 {
		return exitError{code: 1, msg: "no image could be featurized"}
	}

	if f.labels != "" {
		lab, err := dataset.LoadContext(cmd.Context(), f.cache, f.labels, dataset.Options{LabelColumn: f.labelColumn, Classes: classes, Columns: mf.Columns()})
		if err != nil {
			return err
		}
		if note := lab.Notes.Summary(); note != "" {
			fmt.Fprintln(stderr, "classify:", printable(note, false))
		}
		cal, at, ok := classify.Measure(classes, lab.Y, classifier.Rows(mf.Predict(lab.X)), f.target, classTargets)
		if ok {
			fmt.Fprintf(stderr, "classify: on the %d labelled images, confidence >= %.6g keeps %d (%.1f%%) at accuracy %.4f\n",
				len(lab.Y), at.Threshold, at.N, 100*at.Coverage, at.Accuracy)
		} else {
			fmt.Fprintf(stderr, "classify: on the %d labelled images, not even the most confident reach accuracy %g\n", len(lab.Y), f.target)
		}
		cut = classify.FromCalibration(cal, classes)
	}

	keep := make(map[string]bool, len(items))
	for _, it := range items {
		keep[it.Path] = true
	}
	src, note, err := mf.OpenFeatures(f.cache, dataset.Columns{})
	if err != nil {
		return err
	}
	defer src.Close()
	if note != "" {
		fmt.Fprintln(stderr, "classify:", printable(note, false))
	}
	var n classify.Counts
	err = outfile.Write(f.out, func(w io.Writer) error {
		n, err = classify.WritePredictions(cmd.Context(), w, mf, src, classify.Options{Cut: cut, Keep: func(p string) bool { return keep[p] }})
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "classify: %d images -> %s (features cached in %s)\n", n.Rows, printable(f.out, false), printable(f.cache, false))
	if cut != nil {
		novel := ""
		if mf.NoveltyCut() > 0 {
			novel = fmt.Sprintf(", %d of them novel", n.Novel)
		}
		fmt.Fprintf(stderr, "classify: settled %d of %d images (%s); %d remain for people%s\n",
			n.Settled, n.Rows, printable(cut.Describe, false), n.Rows-n.Settled, novel)
	}
	if mf.NoveltyCut() > 0 {
		fmt.Fprintf(stderr, "classify: %d of %d images are novel (novelty > %.3g: unlike every labelled image; never settled, whatever their probabilities)\n",
			n.Novel, n.Rows, mf.NoveltyCut())
	}
	if sum.Failed > 0 && f.errors != "" {
		fmt.Fprintf(stderr, "classify: %d skipped files are listed in %s\n", sum.Failed, f.errors)
	}
	if f.strict && sum.Failed > 0 {
		return exitError{code: 1, msg: fmt.Sprintf("--strict: %d files were skipped", sum.Failed)}
	}
	return nil
}

// setNoveltyCut applies --novelty-cut to the loaded model: "" keeps the
// model's cut, "off" removes it, a number replaces it.
func setNoveltyCut(mf *classifier.File, v string) error {
	switch {
	case v == "":
		return nil
	case mf.Novelty == nil:
		return usageError("--novelty-cut: the model keeps no novelty reference (train it again with this winnow)")
	case v == "off":
		mf.Novelty.Cut = 0
		return nil
	}
	c, err := strconv.ParseFloat(v, 64)
	if err != nil || !(c > 0) || math.IsInf(c, 0) {
		return usageError("--novelty-cut %q: want a positive number (a novelty; about 1 is typical of labelled images) or off", v)
	}
	mf.Novelty.Cut = c
	return nil
}

func classTargetText(t map[string]float64) string {
	if len(t) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(t)) {
		parts = append(parts, fmt.Sprintf("%s=%g", k, t[k]))
	}
	return " with class targets " + strings.Join(parts, ",")
}
