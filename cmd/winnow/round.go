package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/plural"
	"github.com/winnowml/winnow/internal/project"
)

func newRoundCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "round",
		Short: "Manage a project's labelling rounds",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "close DIR",
		Short: "Close the open round: consensus, retrain, evaluate, select and open the next",
		Long: `round close does what the admin page's Close round button does, with the same
code: it stops taking answers for the open round, builds the training labels by
consensus (a gold label wins; otherwise the majority of participants' latest
answers; ties stay unlabelled and are listed; "none of these" majorities are
left out), writes them to DIR/labels/round-N.csv, trains DIR/models/round-N.json,
evaluates it on the gold test items (DIR/reports/round-N.html, metrics in the
database), selects the next batch with the project's strategy and opens the
next round. It may run while winnow serve takes answers: answers for the
closing round are refused and the page says so.

Ctrl-C stops it and leaves the round open.`,
		Example: `  winnow round close knots`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			project.Version = version
			p, err := project.Open(args[0])
			if err != nil {
				return err
			}
			defer p.Close()
			res, err := p.CloseRound(cmd.Context())
			if errors.Is(err, project.ErrNoRound) {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if err != nil {
				if cmd.Context().Err() != nil {
					return fmt.Errorf("interrupted: the round stays open (%v)", err)
				}
				return err
			}
			// Stage by stage, each stage's notes before its result, so
			// what is printed reads in the order it ran.
			out := cmd.OutOrStdout()
			for _, st := range res.Steps {
				for _, n := range st.Notes {
					fmt.Fprintf(cmd.ErrOrStderr(), "round close: %s\n", n)
				}
				switch st.Stage {
				case "consensus":
					printConsensus(out, res)
				case "train":
					if res.Model != "" {
						fmt.Fprintf(out, "trained %s on %s\n", res.Model, plural.N(res.TrainRows, "labelled image"))
					}
				case "evaluate":
					if m := res.Metrics; m != nil && m.TestItems > 0 {
						fmt.Fprintf(out, "on %s: accuracy %s, log loss %s, macro AUC %s (%s)\n",
							plural.N(m.TestItems, "gold test item"), num(m.Accuracy), num(m.LogLoss), num(m.MacroAUC), p.ReportPath(m.Round))
					}
				case "open":
					if res.Next != nil {
						fmt.Fprintf(out, "round %d is open with %s\n", res.Next.Number, plural.N(len(res.Next.Picks), "image"))
					} else {
						fmt.Fprintln(out, "no next round: every image is labelled or excluded")
					}
				}
			}
			return nil
		},
	})
	return cmd
}

func printConsensus(out io.Writer, res *project.CloseResult) {
	var parts []string
	for _, s := range []string{labelstore.Labelled, labelstore.Tie, labelstore.NoneOfThem, labelstore.Flagged, labelstore.Unanswered} {
		parts = append(parts, fmt.Sprintf("%s %d", s, res.Status[s]))
	}
	fmt.Fprintf(out, "round %d closed: %s: %s\n", res.Closed.Number, plural.N(len(res.Closed.Picks), "pick"), strings.Join(parts, ", "))
	for _, d := range res.Ties {
		var votes []string
		for c, n := range d.Votes {
			votes = append(votes, fmt.Sprintf("%s %d", c, n))
		}
		sort.Strings(votes)
		if d.None > 0 {
			votes = append(votes, fmt.Sprintf("none %d", d.None))
		}
		fmt.Fprintf(out, "  tie: %s (%s)\n", d.Item.Path, strings.Join(votes, ", "))
	}
}
