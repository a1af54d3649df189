package main

import (
	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/backbone"
)

// version is set at build time: go build -ldflags "-X main.version=..."
var version = "dev"

// globals are the flags every subcommand understands.
type globals struct {
	ortLib string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "winnow",
		Short: "Build an image classifier from a few hundred labels",
		Long: `winnow turns images into feature vectors with a pretrained CNN (any ONNX
backbone, run by ONNX Runtime), trains a regularised linear classifier on them,
and picks the images whose labels would help most.

The loop:
  winnow featurize photos/ -o features.parquet        (default backbone: mobilenet-v2)
  winnow train --features features.parquet --labels labels.csv -o model.json
  winnow evaluate --model model.json --features features.parquet --labels test.csv --html report.html
  winnow select --model model.json --features features.parquet -n 8 --exclude labels.csv --exclude test.csv -o next.csv
  winnow train --features features.parquet --labels labels.csv --labels next.csv -o model.json   (next.csv filled in)
  winnow simulate --features features.parquet --labels all-labels.csv --out sim/`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.ortLib, "ort-lib", "",
		"path to ONNX Runtime's "+backbone.LibName+" (default: $"+backbone.EnvLib+", next to winnow, the .deps folder of a checkout, system paths)")
	root.AddCommand(newFeaturizeCmd(g), newFeaturesCmd(), newBackboneCmd(), newTrainCmd(), newEvaluateCmd(), newPredictCmd(),
		newSelectCmd(), newSimulateCmd(), newExportCmd(), newClassifyCmd(g), newServeCmd(g), newVersionCmd(g),
		newInitCmd(g), newImportLabelsCmd(), newStatusCmd(), newRoundCmd(), newAssessCmd(), newLabelsCmd())
	return root
}
