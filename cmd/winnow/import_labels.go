package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/project"
)

func newImportLabelsCmd() *cobra.Command {
	var gold bool
	var column, participant, onConflict string
	cmd := &cobra.Command{
		Use:   "import-labels DIR FILE.csv [--gold | --participant NAME]",
		Short: "Add known labels to a project",
		Long: `import-labels reads a CSV with a "path" column and a label column and records
the labels in the project DIR. Paths are as featurize recorded them (relative to
the image folder). With --gold the labels are gold: each goes to the practice
items or the test set (by a hash of the project's seed and the path, with the
share set in winnow.toml; once the project has [practice] max_items practice
items the rest goes to test, and a practice item stays one), and a gold label
wins over participants' answers; the practice pages a participant will do are
then printed.
Without --gold they are known labels: they train, and the images are never
picked for labelling, but they do not test.

With --participant NAME the rows are that participant's answers, collected
in another tool or a spreadsheet: they vote in Close round's consensus like
answers given on the site, and winnow assess measures them (on gold items
they count towards the participant's accuracy and never train). A second
import under the same name adds to the same participant.

An empty label or "none" means "none of these": the image fits no class, is
never trained on and never picked for labelling (from a gold file too: a
test item needs a class). Unknown paths and labels that are not classes of
the project are counted and reported; the rest is imported. A file giving one
path two different labels imports nothing, and so does one that would change
a label an image already has (a gold label by --gold, an imported one
otherwise): every such change is listed, and --on-conflict replace makes
them, listing each.`,
		Example: `  winnow import-labels knots gold.csv --gold
  winnow import-labels knots old-labels.csv --label-column knot_class
  winnow import-labels knots anna.csv --participant Anna
  winnow import-labels knots corrected-gold.csv --gold --on-conflict replace`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if gold && cmd.Flags().Changed("participant") {
				return usageError("--gold and --participant: a participant's answers are not gold; give one or the other")
			}
			if cmd.Flags().Changed("participant") && participant == "" {
				return usageError("--participant: give the participant's name")
			}
			on, err := project.ParseOnConflict(onConflict)
			if err != nil {
				return usageError("%v", err)
			}
			if participant != "" && cmd.Flags().Changed("on-conflict") {
				return usageError("--on-conflict: a participant's answers add to their earlier ones and change no label; leave it out with --participant")
			}
			p, err := project.Open(args[0])
			if err != nil {
				return err
			}
			defer p.Close()
			var res project.ImportResult
			if participant != "" {
				res, err = p.ImportParticipant(cmd.Context(), args[1], column, participant)
			} else {
				res, err = p.ImportLabels(cmd.Context(), args[1], column, gold, on)
			}
			if err != nil {
				return err // it names the file already
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "import-labels: %s: %s\n", args[1], res)
			for _, c := range res.Replaced {
				fmt.Fprintf(out, "import-labels: replaced %s\n", printable(c.String(), false))
			}
			if gold {
				plan, err := p.PracticePlan(cmd.Context())
				if err != nil {
					return err
				}
				for _, l := range plan.Lines() {
					fmt.Fprintf(out, "import-labels: %s\n", l)
				}
			}
			if res.Imported == 0 && res.Rows > 0 {
				return exitError{code: 1, msg: fmt.Sprintf("%s: no label could be imported", args[1])}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&gold, "gold", false, "the labels are gold: practice and test items")
	cmd.Flags().StringVar(&column, "label-column", "label", "name of the label column")
	cmd.Flags().StringVar(&onConflict, "on-conflict", "error", "an image that already has a different label: error (list them all, import nothing) or replace (and list what was replaced)")
	cmd.Flags().StringVar(&participant, "participant", "", "the rows are this participant's answers (for winnow assess and the consensus)")
	return cmd
}
