package main

import (
	"fmt"
	"math"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/project"
)

func newStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status DIR",
		Short: "Show a project's rounds, label counts and latest metrics",
		Long: `status prints the project's images by role (pool, gold practice, gold test,
imported labels), participants and answers, every round with its picks and how
many of them have an answer, and each trained model's metrics on the gold test
items (round 0 is the model trained at init). It only reads (the database is
opened read-only), so it is safe while winnow serve runs and works on a
project you cannot write.`,
		Example: `  winnow status knots`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := project.OpenReadOnly(args[0])
			if err != nil {
				return err
			}
			defer p.Close()
			ctx := cmd.Context()
			st := p.Store()
			c, err := st.Count(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			cfg := p.Config()
			fmt.Fprintf(out, "project %s: %q, %d classes, strategy %s, batch %d\n", p.Dir(), cfg.Title, len(cfg.Classes), cfg.Strategy, cfg.Batch)
			fmt.Fprintf(out, "images: %d (pool %d, gold practice %d, gold test %d, imported labels %d)\n", c.Items, c.Pool, c.Practice, c.Test, c.Imported)
			fmt.Fprintf(out, "participants: %d; answers: %d (%d label, %d practice)\n", c.Participants, c.Answers, c.LabelAnswers, c.Answers-c.LabelAnswers)
			rounds, err := st.Rounds(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "\nround\tstate\tpicks\tanswered\tparticipants\topened\tclosed")
			for _, r := range rounds {
				rows, err := st.RoundAnswers(ctx, r.ID)
				if err != nil {
					return err
				}
				answered, people := map[int64]bool{}, map[int64]bool{}
				for _, a := range rows {
					if !a.Undone && !a.Superseded && !a.Skip {
						answered[int64(a.ItemID)] = true
						people[a.ParticipantID] = true
					}
				}
				closed := "-"
				if !r.Closed.IsZero() {
					closed = r.Closed.Local().Format("2006-01-02 15:04")
				}
				fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%s\t%s\n", r.Number, r.State, len(r.Picks), len(answered), len(people),
					r.Opened.Local().Format("2006-01-02 15:04"), closed)
			}
			tw.Flush()
			ms, err := st.Metrics(ctx)
			if err != nil {
				return err
			}
			if len(ms) == 0 {
				fmt.Fprintln(out, "\nno model yet (training needs labels in two classes)")
				return nil
			}
			tw = tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "\nmodel after round\ttraining labels\ttest items\taccuracy\tlog loss\tmacro AUC\treport")
			for _, m := range ms {
				fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\t%s\n", m.Round, m.Labels, m.TestItems, num(m.Accuracy), num(m.LogLoss), num(m.MacroAUC), m.ReportHTML)
			}
			tw.Flush()
			fmt.Fprintf(out, "latest model: %s\n", p.ModelPath())
			return nil
		},
	}
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}
