package main

import (
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/project"
)

// projectPaths is --project DIR on the verbs that read a feature file and a
// model: a project folder (winnow init) supplies both, so a user of the site
// can predict or select without knowing where the project keeps them.
type projectPaths struct{ dir string }

func (pp *projectPaths) addFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&pp.dir, "project", "", "a project folder (winnow init): its features and latest model stand in for --features and --model when those are not given")
}

// fill sets features and model from the project where they are empty, then
// requires both, naming the flags.
func (pp *projectPaths) fill(features, model *string) error {
	if pp.dir != "" {
		p, err := project.OpenReadOnly(pp.dir)
		if err != nil {
			return err
		}
		defer p.Close()
		if *features == "" {
			*features = filepath.Join(pp.dir, filepath.FromSlash(project.FeaturesFile))
		}
		if *model == "" {
			if *model = p.ModelPath(); *model == "" {
				return usageError("project %s has no model yet: give it gold labels (winnow import-labels --gold) and close a round", pp.dir)
			}
		}
	}
	switch {
	case *features == "":
		return usageError("--features is required (or --project DIR)")
	case *model == "":
		return usageError("--model is required (or --project DIR)")
	}
	return nil
}

// labelFiles are the project's label files (every round's training labels
// and gold test sets): select excludes them, so it never picks an image
// already labelled or held out for testing.
func (pp *projectPaths) labelFiles() []string {
	if pp.dir == "" {
		return nil
	}
	found, _ := filepath.Glob(filepath.Join(pp.dir, filepath.FromSlash(project.LabelsDir), "*.csv"))
	return found
}
