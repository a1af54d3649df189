package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/imageset"
	"github.com/winnowml/winnow/internal/outfile"
	"github.com/winnowml/winnow/internal/plural"
)

// labelFlags are the label-source flags train, evaluate, simulate and
// select share, so they mean the same everywhere.
type labelFlags struct {
	sources    []string
	onConflict string
	foldCase   bool
}

func (l *labelFlags) register(fl *pflag.FlagSet, what string) {
	fl.StringArrayVar(&l.sources, "labels", nil, what+"; repeat to merge several files (a path labelled twice the same way counts once); "+
		"\"folders\": each image's first folder under the featurized root")
	fl.StringVar(&l.onConflict, "on-conflict", "error", "a path labelled differently by two rows or files: error (list them) or last (the later wins)")
	fl.BoolVar(&l.foldCase, "fold-case", false, "merge labels that differ only in case (Sneaker, sneaker) into one spelling instead of stopping")
}

func (l *labelFlags) merge(classes []string) dataset.Merge {
	return dataset.Merge{OnConflict: l.onConflict, FoldCase: l.foldCase, Classes: classes}
}

func (l *labelFlags) check() error {
	if err := dataset.CheckOnConflict(l.onConflict); err != nil {
		return usageError("%v", err)
	}
	return nil
}

// files lists the label files among the sources ("folders" is no file).
func (l *labelFlags) files() []string {
	var out []string
	for _, s := range l.sources {
		if s != dataset.Folders {
			out = append(out, s)
		}
	}
	return out
}

// String names the sources for messages and the model file.
func (l *labelFlags) String() string { return dataset.SourceList(l.sources) }

func newLabelsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "labels",
		Short: "Make label files",
	}
	var out string
	from := &cobra.Command{
		Use:   "from-folders ROOT -o labels.csv",
		Short: "Label each image under ROOT by its first folder (ROOT/boot/1.png: boot)",
		Long: `from-folders writes path,label for every image under ROOT whose path has a
folder: the label is that first folder, the path is relative to ROOT with /,
as featurize ROOT records it. Images directly under ROOT get no row.

train, evaluate, simulate and select read the same labels without a file with
--labels folders.`,
		Example: `  winnow labels from-folders photos/ -o labels.csv`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := args[0]
			if st, err := os.Stat(root); err != nil {
				return err
			} else if !st.IsDir() {
				return usageError("%s is not a folder", root)
			}
			if err := outfile.CheckOutside(outfile.Named{Flag: "ROOT", Path: root}, files{}.add("-o", out)); err != nil {
				return exitError{code: 2, msg: err.Error()}
			}
			items, err := imageset.List(root)
			if err != nil {
				return err
			}
			counts := map[string]int{}
			loose := 0
			var rows [][2]string
			for _, it := range items {
				lab, ok, err := dataset.FolderLabel(it.Path)
				if err != nil {
					return err
				}
				if !ok {
					loose++
					continue
				}
				counts[lab]++
				rows = append(rows, [2]string{it.Path, lab})
			}
			if len(rows) == 0 {
				return fmt.Errorf("no image of %s is in a sub-folder: nothing to label (%d images directly under it)", root, loose)
			}
			if err := outfile.Write(out, func(w io.Writer) error { return dataset.WriteLabels(w, rows) }); err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			var classes []string
			for c := range counts {
				classes = append(classes, c)
			}
			sort.Strings(classes)
			var desc []string
			for _, c := range classes {
				desc = append(desc, fmt.Sprintf("%s %d", printable(c, false), counts[c]))
			}
			fmt.Fprintf(stderr, "labels: %s in %s (%s)\n", plural.N(len(rows), "image"), plural.N(len(classes), "class"), strings.Join(desc, ", "))
			if loose > 0 {
				fmt.Fprintf(stderr, "labels: %s directly under %s: no folder, so no row\n", plural.N(loose, "image"), printable(root, false))
			}
			fmt.Fprintf(stderr, "labels: wrote %s\n", printable(out, false))
			return nil
		},
	}
	from.Flags().StringVarP(&out, "output", "o", "", "CSV to write: path,label (required)")
	from.MarkFlagRequired("output")
	cmd.AddCommand(from)
	return cmd
}

// classTable prints the rows of each class, and warns about classes too
// small to say much: with fewer than 3 rows a class's weights rest on one
// or two images, and cross-validation cannot put one in every fold.
func classTable(w io.Writer, verb string, classes []string, counts []int) {
	width := len("class")
	for _, c := range classes {
		width = max(width, len(printable(c, false)))
	}
	fmt.Fprintf(w, "  %-*s %6s\n", width, "class", "rows")
	for k, c := range classes {
		fmt.Fprintf(w, "  %-*s %6d\n", width, printable(c, false), counts[k])
	}
	for k, c := range classes {
		if counts[k] < 3 {
			fmt.Fprintf(w, "%s: warning: class %q has only %s; label at least 3 (better 10+) for a model that says something about it\n", verb, printable(c, false), plural.N(counts[k], "row"))
		}
	}
}

// trainingOverlap counts the paths among the model's training rows (0 for
// a model that predates the record).
func trainingOverlap(mf *classifier.File, paths []string) (int, error) {
	if mf.Training.Paths == nil {
		return 0, nil
	}
	in, err := mf.Training.Paths.Matcher()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range paths {
		if in(p) {
			n++
		}
	}
	return n, nil
}
