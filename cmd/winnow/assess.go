package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/assess"
	"github.com/winnowml/winnow/internal/outfile"
	"github.com/winnowml/winnow/internal/project"
)

func newAssessCmd() *cobra.Command {
	var htmlOut, jsonOut, truth, rowsDir string
	var noModels bool
	cmd := &cobra.Command{
		Use:   "assess DIR [--html FILE] [--json FILE]",
		Short: "Assess the participants: accuracy, agreement, consensus, and a model per participant",
		Long: `assess measures each participant of the project DIR: items labelled, practice
accuracy (first attempt and now), accuracy on gold met while labelling (hidden
gold), agreement and Cohen's kappa with the Dawid-Skene consensus, confusion
matrix against gold, "bad example" and skip rates, median seconds per answer.
Overall: Fleiss' kappa per round and overall, Cohen's kappa between every two
participants, the Dawid-Skene consensus (gold clamped) with its most contested
items. And the workshop's test: for each participant a model trained on the
initial training set plus their labels, scored on the gold test items, ranked
next to the consensus, majority vote and the initial set alone (and the true
labels, with --truth). A statistic that is not defined (no overlap, a single
participant, a class nobody used) is shown as such with the reason; JSON
writes null. Dawid-Skene's accuracy of a participant and the kappas need
10 items of evidence (items of known class answered, and items shared with
another participant once 3 participants share items): with fewer they are
"too few shared answers to estimate". Participants are ranked by
Dawid-Skene accuracy, practice accuracy beside it; those with no label
answer are left out.

--truth FILE.csv must be a CSV of path,label naming images of the project:
assess prints how many rows matched, and refuses another file.

It only reads the project (the database is opened read-only), so it is safe
while winnow serve runs and works on a project you cannot write.`,
		Example: `  winnow assess knots
  winnow assess knots --html assessment.html --json assessment.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			in := files{}.add("DIR", filepath.Join(dir, "winnow.db"), filepath.Join(dir, "winnow.toml"), filepath.Join(dir, project.FeaturesFile))
			if truth != "" {
				in = in.add("--truth", truth)
			}
			out := files{}.add("--html", htmlOut).add("--json", jsonOut)
			if err := refuseOverwrite(in, out); err != nil {
				return err
			}
			p, err := project.OpenReadOnly(dir)
			if err != nil {
				return err
			}
			defer p.Close()
			rep, err := assess.Run(cmd.Context(), p, assess.Options{Models: !noModels, Truth: truth, RowsDir: rowsDir})
			if err != nil {
				return err
			}
			if rep.Truth != nil {
				note := ""
				if noModels {
					note = " (not used: --no-models trains no model)"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "assess: --truth %s: %s%s\n", truth, rep.Truth, note)
			}
			printAssessment(cmd.OutOrStdout(), rep)
			if jsonOut != "" {
				if err := outfile.Write(jsonOut, func(w io.Writer) error {
					e := json.NewEncoder(w)
					e.SetIndent("", "  ")
					return e.Encode(rep)
				}); err != nil {
					return err
				}
			}
			if htmlOut != "" {
				if err := outfile.Write(htmlOut, func(w io.Writer) error { return assess.HTML(w, rep) }); err != nil {
					return err
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&htmlOut, "html", "", "write the assessment as a self-contained HTML page")
	fl.StringVar(&jsonOut, "json", "", "write the assessment as JSON (null for what is not defined)")
	fl.StringVar(&truth, "truth", "", "CSV (path,label) of true labels: adds a reference model trained on them")
	fl.StringVar(&rowsDir, "rows", "", "write each model's training rows and the test rows as CSV to this folder")
	fl.BoolVar(&noModels, "no-models", false, "skip the per-participant models (the statistics alone are quick)")
	return cmd
}

// printAssessment is the terminal summary: the participants' table and the
// overall figures; "-" is not defined (the JSON and HTML say why).
func printAssessment(w io.Writer, rep *assess.Report) {
	f := func(v assess.Value, prec int) string {
		if !v.OK {
			return "-"
		}
		return fmt.Sprintf("%.*f", prec, v.V)
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "participant\tlabelled\tpractice 1st\tgold (n)\tkappa vs consensus\tbad\tskip\ts/answer\tmodel accuracy\trank")
	for _, p := range rep.Participants {
		rank := "-"
		if p.Model != nil && p.Model.Rank > 0 {
			rank = fmt.Sprint(p.Model.Rank)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s (%d)\t%s\t%s\t%s\t%s\t%s\t%s\n", quoteName(p.Name), p.N, f(p.PracticeFirst, 2), f(p.GoldAccuracy, 2), p.GoldN,
			f(p.KappaConsensus, 3), f(p.BadRate, 2), f(p.SkipRate, 2), f(p.MedianSeconds, 2), f(p.ModelAccuracy, 3), rank)
	}
	tw.Flush()
	fmt.Fprintf(w, "Fleiss' kappa: %s", f(rep.Fleiss, 3))
	if rep.FleissWhy != "" {
		fmt.Fprintf(w, " (not defined: %s)", rep.FleissWhy)
	}
	fmt.Fprintf(w, "\nconsensus: %s over %d items and %d practice answers, differs from majority vote on %d\n", rep.Consensus.Method, rep.Consensus.Items,
		rep.Consensus.Practice, rep.Consensus.DifferFromMajority)
	if len(rep.Ranking) > 0 {
		tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "\nranking by Dawid-Skene accuracy\nrank\tparticipant\tDS accuracy\tpractice 1st\tevidence (items)")
		for _, r := range rep.Ranking {
			rank := "-"
			if r.Rank > 0 {
				rank = fmt.Sprint(r.Rank)
			}
			// The reason goes last: in the accuracy column it would push
			// the numbers of every row off to the right.
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", rank, quoteName(r.Name), f(r.DSAccuracy, 3), f(r.PracticeFirst, 2), r.Evidence, r.Why)
		}
		tw.Flush()
	}
	if len(rep.Models) > 0 {
		tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "\nrank\tmodel\trows\ttest accuracy\tmacro AUC")
		for _, m := range rep.Models {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", m.Rank, quoteName(m.Name), m.Rows, f(m.Accuracy, 3), f(m.MacroAUC, 3))
		}
		tw.Flush()
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// quoteName keeps a participant's chosen name from writing control
// characters to the terminal.
func quoteName(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}
