package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/outfile"
	"github.com/winnowml/winnow/internal/query"
	"github.com/winnowml/winnow/internal/report"
	"github.com/winnowml/winnow/internal/sim"
)

func newSimulateCmd() *cobra.Command {
	cfg := sim.Config{}
	var out, strategies string
	var seed int64
	cmd := &cobra.Command{
		Use:   "simulate --features F --labels ORACLE.csv --out DIR",
		Short: "Replay active learning against known labels: strategies vs random, learning curves, p-values",
		Long: `simulate replays active learning with labels you already have, to see whether a
query strategy would have saved labelling work on your data.

Protocol: the test set (--test, or a stratified --test-fraction) and the initial
labelled set (--initial, or --initial-per-class random rows of each class) are
fixed and shared by every strategy. Round 0 fits a model on the initial set,
scores it on the test set and picks a batch of --batch rows from the pool; the
oracle's labels for that batch are added, and round 1 fits, scores and picks
again, up to --rounds. A queried row whose oracle label is missing or outside
--classes counts as queried and leaves the pool, but never trains.

random is replayed --repeats times: the spread gives its learning curve a band,
and its final scores are the Monte Carlo null for the other strategies'
p-values. A "full" model trained on every usable pool label is the ceiling.

Writes DIR/report.html (self-contained), DIR/rounds.csv (one row per strategy,
repeat and round) and DIR/summary.json.`,
		Example: `  winnow simulate --features pool.parquet --labels oracle.csv --out sim/ \
      --initial-per-class 2 --batch 20 --rounds 10 --strategies entropy,margin,least-confidence,random`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Strategies = splitList(strategies)
			cfg.Seed = uint64(seed)
			cfg.Log = cmd.ErrOrStderr()
			if len(cfg.Strategies) == 0 {
				return fmt.Errorf("--strategies is empty; valid: %s", strings.Join(query.Names(), ", "))
			}
			if cmd.Flags().Changed("test") && cmd.Flags().Changed("test-fraction") {
				return fmt.Errorf("give --test or --test-fraction, not both")
			}
			if cmd.Flags().Changed("initial") && cmd.Flags().Changed("initial-per-class") {
				return fmt.Errorf("give --initial or --initial-per-class, not both")
			}
			in := files{}.add("--features", cfg.Features...).add("--labels", cfg.Labels).add("--test", cfg.Test).add("--initial", cfg.Initial)
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
			labels, err := dataset.ReadLabels(cfg.Labels, cfg.LabelColumn)
			if err != nil {
				return err
			}
			title := "winnow simulate: " + strings.Join(cfg.Strategies, ", ")
			if err := report.SimulationHTML(&page, title, res, labels.ByPath); err != nil {
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
	fl.StringVar(&cfg.Labels, "labels", "", "the oracle: CSV with path and label columns (required)")
	fl.StringVar(&cfg.LabelColumn, "label-column", "label", "name of the label column (never a feature, also in a features CSV)")
	fl.StringSliceVar(&cfg.Ignore, "ignore-columns", nil, "columns of a features CSV that are not features")
	fl.StringSliceVar(&cfg.Classes, "classes", nil, "class names in order; other labels count as missing (NA)")
	fl.StringVarP(&out, "out", "o", "", "folder for report.html, rounds.csv and summary.json (required)")
	fl.StringVar(&cfg.Test, "test", "", "CSV of test paths (default: --test-fraction of the labelled rows)")
	fl.Float64Var(&cfg.TestFraction, "test-fraction", 0.25, "share of each class held out for testing")
	fl.StringVar(&cfg.Initial, "initial", "", "CSV of initially labelled paths (default: --initial-per-class)")
	fl.IntVar(&cfg.InitialPerClass, "initial-per-class", 6, "random rows of each class labelled at the start")
	fl.IntVar(&cfg.Batch, "batch", 8, "rows queried per round")
	fl.IntVar(&cfg.Rounds, "rounds", 10, "rounds of query, label, refit")
	fl.StringVar(&strategies, "strategies", "entropy,least-confidence,margin,random", "strategies to compare: "+strings.Join(query.Names(), ", "))
	fl.IntVar(&cfg.Repeats, "repeats", 20, "replays of random (its band and the p-values' null distribution)")
	fl.Int64Var(&seed, "seed", 1, "seed for the splits, random picks and tie-breaking")
	fl.IntVar(&cfg.Candidates, "candidates", 2000, "coreset and badge consider this many most uncertain rows (0: all)")
	fl.Float64Var(&cfg.Params.L1, "l1", 0.01, "L1 penalty, as in train")
	fl.Float64Var(&cfg.Params.L2, "l2", 0.01, "L2 penalty, as in train")
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

// printSimSummary prints the headline table: final scores, p-values and
// labels to target, strategy by strategy.
func printSimSummary(cmd *cobra.Command, res *sim.Result) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%-18s %8s %9s %8s %9s %9s %9s\n", "strategy", "labels", "accuracy", "p", "macroAUC", "to 95%", "to 99%")
	for _, c := range res.Curves() {
		last := len(c.NTrain) - 1
		p := "-"
		if ps, ok := res.PValues[c.Strategy]; ok {
			p = fmt.Sprintf("%.3f", ps["accuracy"])
		}
		t := res.LabelsToTarget[c.Strategy]
		fmt.Fprintf(w, "%-18s %8.0f %9.4f %8s %9.4f %9s %9s\n", c.Strategy, c.NTrain[last], c.Mean["accuracy"][last], p,
			c.Mean["macro_auc"][last], reached(t, "95%"), reached(t, "99%"))
	}
	fmt.Fprintf(w, "%-18s %8d %9.4f %8s %9.4f\n", "full model", res.Full.NTrain, res.Full.Report.Accuracy, "", res.Full.Report.MacroAUC)
}

func reached(t map[string]int, key string) string {
	if n, ok := t[key]; ok {
		return fmt.Sprint(n)
	}
	return "-"
}
