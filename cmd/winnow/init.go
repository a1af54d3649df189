package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/progress"
	"github.com/winnowml/winnow/internal/project"
	"github.com/winnowml/winnow/internal/query"
)

func newInitCmd(g *globals) *cobra.Command {
	var opt project.InitOptions
	var classes, describe []string
	var aboutFile string
	var quiet bool
	var seed uint64
	cmd := &cobra.Command{
		Use:   "init DIR --images SOURCE --classes A,B,C [--gold FILE.csv]",
		Short: "Create a labelling project: settings, database, features and the first batch",
		Long: `init creates the project folder DIR:

  DIR/winnow.toml   settings, commented: classes and their descriptions, strategy,
                    batch size, penalties, practice gate, the About text
  DIR/winnow.db     the labelling database (SQLite)
  DIR/features/     the images' features (as winnow featurize writes them)
  DIR/labels/ picks/ models/ reports/   written at each round close

It featurizes every image of SOURCE (a folder or a manifest, as featurize reads
them; interrupted, the same command resumes), registers the images, imports the
gold labels of --gold (a CSV with path and label columns; paths as featurize
records them, relative to SOURCE) and splits them into practice items (shown on
the Practice page; they also train; at most --practice-max-items of them) and
test items (every model is evaluated on them; they never train), says how many
practice pages a participant will do (and warns above 3), trains a first model
if the practice items cover two classes, and selects round 1: with the
project's strategy when there is a model, a seeded random sample otherwise.

Then: winnow serve DIR (the labelling site), winnow round close DIR,
winnow status DIR, winnow import-labels DIR FILE.csv.`,
		Example: `  winnow init knots --images photos/ --classes sound,dry,encased --gold gold.csv
  winnow init fm --images fmnist/ --classes coat,shirt --describe "coat=Outerwear, buttons or zip" --batch 30`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			desc := map[string]string{}
			for _, d := range describe {
				name, text, ok := strings.Cut(d, "=")
				if !ok {
					return fmt.Errorf("--describe %q: want NAME=TEXT", d)
				}
				desc[strings.TrimSpace(name)] = strings.TrimSpace(text)
			}
			known := map[string]bool{}
			for _, c := range classes {
				c = strings.TrimSpace(c)
				known[c] = true
				d := desc[c]
				if d == "" {
					d = "Describe how to recognise " + c + " here (winnow.toml)."
				}
				opt.Classes = append(opt.Classes, project.Class{Name: c, Description: d})
			}
			for name := range desc {
				if !known[name] {
					return fmt.Errorf("--describe names %q, which is not one of --classes", name)
				}
			}
			if aboutFile != "" {
				data, err := os.ReadFile(aboutFile)
				if err != nil {
					return fmt.Errorf("--about-file: %w", err)
				}
				opt.About = string(data)
			}
			for _, f := range []struct {
				name string
				v    int
			}{{"practice-page-size", opt.PracticePageSize}, {"practice-max-items", opt.PracticeMaxItems}} {
				if f.v <= 0 {
					return usageError("--%s: must be positive, got %d", f.name, f.v)
				}
			}
			opt.Seed = seed
			opt.ORTLib = g.ortLib
			opt.Log = cmd.ErrOrStderr()
			opt.Progress = progress.Auto
			if quiet {
				opt.Progress = progress.Quiet
			}
			project.Version = version
			p, err := project.Init(cmd.Context(), args[0], opt)
			if err != nil {
				return err
			}
			defer p.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "project %s is ready: winnow serve %s\n", args[0], args[0])
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opt.Images, "images", "", "image folder or manifest (required)")
	fl.StringSliceVar(&classes, "classes", nil, "class names in order, e.g. sound,dry,encased (required)")
	fl.StringArrayVar(&describe, "describe", nil, "a class's description for the Learn page, NAME=TEXT (repeatable; editable later in winnow.toml)")
	fl.StringVar(&opt.Backbone, "backbone", backbone.DefaultName(), "backbone: a built-in name (winnow backbone list) or an ONNX file with its sidecar")
	fl.StringVar(&opt.Gold, "gold", "", "CSV of gold labels (path and label columns), split into practice and test items")
	fl.StringVar(&opt.GoldLabelColumn, "label-column", "label", "name of the label column of --gold")
	fl.StringVar(&opt.Title, "title", "", "the site's title")
	fl.StringVar(&aboutFile, "about-file", "", "Markdown file for the About page (default: a short text naming the classes)")
	fl.StringVar(&opt.Strategy, "strategy", "entropy", "selection strategy: one of "+strings.Join(query.Names(), ", "))
	fl.IntVar(&opt.Batch, "batch", 20, "images per round")
	fl.Uint64Var(&seed, "seed", 1, "seed for the gold split, ties and random picks")
	fl.IntVar(&opt.PracticePageSize, "practice-page-size", project.DefaultConfig().Practice.PageSize, "practice items per page ([practice] page_size; editable later in winnow.toml)")
	fl.IntVar(&opt.PracticeMaxItems, "practice-max-items", project.DefaultConfig().Practice.MaxItems, "at most this many gold items are practice items, the rest of the gold tests ([practice] max_items)")
	fl.IntVar(&opt.Threads, "threads", 0, "threads featurizing uses for decoding and inference together (default: all cores)")
	fl.IntVar(&opt.Workers, "workers", 0, "image decoding goroutines (default: all cores)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	cmd.MarkFlagRequired("images")
	cmd.MarkFlagRequired("classes")
	return cmd
}
