package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/outfile"
	"github.com/winnowml/winnow/internal/query"
	"github.com/winnowml/winnow/internal/report"
	"github.com/winnowml/winnow/internal/sim"
)

func newSimulateCmd() *cobra.Command {
	cfg := sim.Config{}
	var labels labelFlags
	var out, strategies string
	var seed int64
	cmd := &cobra.Command{
		Use:   "simulate --features F --labels ORACLE.csv --out DIR",
		Short: "Replay active learning against known labels: strategies vs random, paired over draws, learning curves, p-values",
		Long: `simulate replays active learning with labels you already have, to see whether a
query strategy would have saved labelling work on your data.

Protocol: round 0 fits a model on the initial labelled set, scores it on the test
set and picks a batch of --batch rows from the pool; the oracle's labels for that
batch are added, and round 1 fits, scores and picks again, up to --rounds. A
queried row whose oracle label is missing or outside --classes counts as asked
and leaves the pool, but never trains. Test rows are never in the pool.

Paired draws: --repeats R draws R times the test split (unless --test is given),
the initial set (unless --initial is given: else --initial-per-class rows of each
class) and the seed of random's picks, badge's and committee's sampling and all
tie-breaking; every strategy runs on every draw, so each draw gives a paired
difference, strategy minus random. The report gives per strategy and round the
mean and 90% band over draws; per strategy, the mean paired difference at the
final round and in area under the learning curve, with a two-sided sign-flip
permutation p-value (exact up to 20 draws, else Monte Carlo with a fixed seed);
and the labels asked (initial + queried, NA included) to reach 95% and 99% of the
accuracy of a "full" model trained on every usable label outside the test set.
With both --test and --initial given, least-confidence, margin, entropy and
coreset would repeat one trajectory on every draw (the seed only orders exactly
equal scores), so they run once, paired with every draw of the others. Draws run
in parallel on all cores; results do not depend on scheduling.

Writes DIR/report.html (self-contained), DIR/rounds.csv (one row per strategy,
repeat and round) and DIR/summary.json, all three or none.`,
		Example: `  winnow simulate --features pool.parquet --labels oracle.csv --out sim/ \
      --initial-per-class 2 --batch 20 --rounds 10 --strategies entropy,margin,least-confidence,random`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Strategies = splitList(strategies)
			cfg.Seed = uint64(seed)
			cfg.Log = cmd.ErrOrStderr()
			if err := labels.check(); err != nil {
				return err
			}
			cfg.LabelSources, cfg.Merge = labels.sources, labels.merge(nil)
			if err := cfg.Validate(); err != nil {
				return usageError("%v", err) // status 2: a bad flag value, caught before any work
			}
			if cmd.Flags().Changed("test") && cmd.Flags().Changed("test-fraction") {
				return usageError("give --test or --test-fraction, not both")
			}
			if cmd.Flags().Changed("initial") && cmd.Flags().Changed("initial-per-class") {
				return usageError("give --initial or --initial-per-class, not both")
			}
			in := files{}.add("--features", cfg.Features...).add("--labels", labels.files()...).add("--test", cfg.Test).add("--initial", cfg.Initial)
			outs := files{}
			for _, name := range simOutputs {
				outs = outs.add("--out", filepath.Join(out, name))
			}
			if err := refuseOverwrite(in, outs); err != nil {
				return err
			}
			res, err := sim.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			var rounds, summary, page bytes.Buffer
			if err := res.WriteRounds(&rounds); err != nil {
				return err
			}
			if err := res.WriteSummary(&summary); err != nil {
				return err
			}
			oracle, err := sim.ReadOracle(&cfg)
			if err != nil {
				return err
			}
			title := "winnow simulate: " + strings.Join(cfg.Strategies, ", ")
			if err := report.SimulationHTML(&page, title, res, oracle.ByPath); err != nil {
				return err
			}
			// All three files are replaced together, or none is: a report
			// beside the rounds of another run would mislead.
			var g outfile.Group
			defer g.Abort()
			for i, buf := range []*bytes.Buffer{&rounds, &summary, &page} {
				if err := g.Add(filepath.Join(out, simOutputs[i]), buf.Bytes()); err != nil {
					return err
				}
			}
			if err := g.Commit(); err != nil {
				return err
			}
			printSimSummary(cmd, res)
			fmt.Fprintf(cmd.ErrOrStderr(), "simulate: wrote %s (report.html, rounds.csv, summary.json) in %.1f s\n", out, res.Seconds)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&cfg.Features, "features", nil, "feature file (Parquet or CSV); repeat for several (required)")
	labels.register(fl, "the oracle: CSV with path and label columns (required)")
	fl.StringVar(&cfg.LabelColumn, "label-column", "label", "name of the label column (never a feature, also in a features CSV)")
	fl.StringSliceVar(&cfg.Ignore, "ignore-columns", nil, "columns of a features CSV that are not features")
	fl.StringSliceVar(&cfg.Classes, "classes", nil, "class names in order; other labels count as missing (NA)")
	fl.StringVarP(&out, "out", "o", "", "folder for report.html, rounds.csv and summary.json (required)")
	fl.StringVar(&cfg.Test, "test", "", "CSV of test paths (default: --test-fraction of the labelled rows)")
	fl.Float64Var(&cfg.TestFraction, "test-fraction", 0.25, "share of each class held out for testing, in (0, 1), redrawn per draw")
	fl.StringVar(&cfg.Initial, "initial", "", "CSV of initially labelled paths (default: --initial-per-class)")
	fl.IntVar(&cfg.InitialPerClass, "initial-per-class", 6, "random rows of each class labelled at the start (>= 1), redrawn per draw")
	fl.IntVar(&cfg.Batch, "batch", 8, "rows queried per round (>= 1)")
	fl.IntVar(&cfg.Rounds, "rounds", 10, "rounds of query, label, refit (>= 1)")
	fl.StringVar(&strategies, "strategies", "entropy,least-confidence,margin,random", "strategies to compare: "+strings.Join(query.Names(), ", "))
	fl.IntVar(&cfg.Repeats, "repeats", 20, "draws of test split, initial set and seed; every strategy runs on each (>= 1)")
	fl.Int64Var(&seed, "seed", 1, "seed of the draws (splits, random picks, sampling, tie-breaking)")
	fl.IntVar(&cfg.Candidates, "candidates", 2000, "coreset and badge consider this many most uncertain rows (0: all; >= 0)")
	fl.Float64Var(&cfg.Params.L1, "l1", 0.01, "L1 penalty, as in train (finite, >= 0)")
	fl.Float64Var(&cfg.Params.L2, "l2", 0.01, "L2 penalty, as in train (finite, >= 0)")
	fl.StringVar(&cfg.Params.Norm, "normalize", linear.NormAuto, "feature scaling, as in train: auto, standard, none")
	for _, name := range []string{"features", "labels", "out"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}

// simOutputs are the files simulate writes into --out, in the order of its
// buffers.
var simOutputs = []string{"rounds.csv", "summary.json", "report.html"}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// printSimSummary prints the headline table: final scores (means over
// draws), the paired difference from random at the final round and in area
// under the accuracy curve with their p-values, and the median labels asked
// to reach 95% and 99% of the full model's accuracy; a line per column
// group under it says what the numbers are.
func printSimSummary(cmd *cobra.Command, res *sim.Result) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%-17s %5s %7s %7s %8s %8s %6s %8s %6s %8s %8s\n", "strategy", "draws", "labels", "trained", "accuracy",
		"vs rand", "p", "area vs", "p", "to 95%", "to 99%")
	for _, c := range res.Curves {
		last := len(c.NTrain) - 1
		diff, p, adiff, ap := "", "", "", ""
		if cmp, ok := res.Comparisons[c.Strategy]; ok {
			diff, p = fmtDiff(cmp.Final["accuracy"]), fmtPValue(cmp.Final["accuracy"])
			adiff, ap = fmtDiff(cmp.AULC["accuracy"]), fmtPValue(cmp.AULC["accuracy"])
		}
		t := res.LabelsToTarget[c.Strategy]
		fmt.Fprintf(w, "%-17s %5d %7.0f %7.1f %8.4f %8s %6s %8s %6s %8s %8s\n", c.Strategy, c.Replays, c.NAsked[last], c.NTrain[last],
			c.Mean["accuracy"][last], diff, p, adiff, ap, reached(t["95%"]), reached(t["99%"]))
	}
	fmt.Fprintf(w, "%-17s %5s %7d %7d %8.4f\n", "full model", "", res.Full.NAsked, res.Full.NTrain, res.Full.Report.Accuracy)
	// Said under the table because the headers are too short to: "to 95%"
	// read alone suggests 95% accuracy, not a share of the full model's.
	fmt.Fprintln(w, "labels: asked of the expert (initial + queried, NA included), trained: rows trained on, accuracy: on the test set; each the mean over the draws at the final round")
	fmt.Fprintln(w, "vs rand, p: mean paired difference in final accuracy, strategy minus random on the same draw, and its p-value")
	fmt.Fprintln(w, "area vs, p: the same for the area under the accuracy curve over labels asked (the curve's mean height)")
	fmt.Fprintln(w, `to 95%, to 99%: median over the draws of the labels asked at the first round whose accuracy reached 95% (99%) of the full model's accuracy on the same draw; "-": most draws did not reach it within --rounds`)
	fmt.Fprintln(w, "full model: trained on every usable label outside the test set (the row shows draw 0's; each draw is compared with its own)")
	fmt.Fprintf(w, "p: %s\n", res.PairedTest)
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func fmtDiff(p sim.Paired) string {
	if p.N == 0 || math.IsNaN(p.MeanDiff) {
		return "-"
	}
	return fmt.Sprintf("%+.4f", p.MeanDiff)
}

func fmtPValue(p sim.Paired) string {
	if p.N == 0 || math.IsNaN(p.P) {
		return "undef"
	}
	if p.P < 0.001 {
		return fmt.Sprintf("%.0e", p.P) // 2/2^20 must not print as 0
	}
	return fmt.Sprintf("%.3f", p.P)
}

// reached is the median labels asked to a target, "-" if most draws never
// reached it.
func reached(t sim.Target) string {
	if math.IsInf(t.Median, 0) || math.IsNaN(t.Median) {
		return "-"
	}
	return fmt.Sprintf("%.0f", t.Median)
}
