package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/classify"
	"github.com/winnowml/winnow/internal/export"
	"github.com/winnowml/winnow/internal/outfile"
)

func newExportCmd() *cobra.Command {
	var model, out, bb string
	cmd := &cobra.Command{
		Use:   "export --model M -o classifier.onnx",
		Short: "Write a trained model and its backbone as one ONNX graph (image tensor in, class probabilities out)",
		Long: `export joins the backbone the model was trained on, the model's feature
normalisation and its linear head, and a softmax into one ONNX graph:

  input   the backbone's preprocessed image tensor (as featurize feeds it)
  outputs "probs" (batch x classes, in the model's class order), the
          feature vector under the backbone's output name, and "novelty"
          (batch x 1) for a model that keeps a novelty reference

and writes classifier.onnx.json beside it, in featurize's sidecar format plus
"probs", "classes" and "resize" (how images were fitted to the input when the
training features were made), "novelty" {output, cut} and, for a calibrated
model, "calibration" {target_accuracy, threshold, class_thresholds}: an image
above the novelty cut is novel, else settled when its top probability reaches
the threshold (its class's own, if it has one), as winnow classify decides. Any ONNX runtime can then classify images
without winnow; featurize itself runs it (--model classifier.onnx
--output-name probs gives the probabilities).

The backbone is found as featurize finds it (a built-in name), or given with
--backbone FILE.onnx; either way it must be the very file the training
features came from (same sha256), or export refuses.`,
		Example: `  winnow export --model model.json -o classifier.onnx
  winnow export --model model.json --backbone resnet18.onnx -o classifier.onnx`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := refuseOverwrite(files{}.add("--model", model).add("--backbone", bb),
				files{}.add("-o", out).add("-o (sidecar)", backbone.SidecarPath(out))); err != nil {
				return err
			}
			mf, err := classifier.Load(model)
			if err != nil {
				return err
			}
			bbf, err := classify.ResolveBackbone(mf, model, bb)
			if err != nil {
				return err
			}
			spec := bbf.Spec
			graph, side, err := export.Classifier(bbf.Data, spec, mf, bbf.Resize.String())
			if err != nil {
				return err
			}
			sideJSON, err := json.MarshalIndent(side, "", "  ")
			if err != nil {
				return err
			}
			var g outfile.Group
			defer g.Abort()
			if err := g.Add(out, graph); err != nil {
				return err
			}
			if err := g.Add(backbone.SidecarPath(out), append(sideJSON, '\n')); err != nil {
				return err
			}
			if err := g.Commit(); err != nil {
				return err
			}
			outs := fmt.Sprintf("%q and %q", side.Probs, side.Output)
			if side.Novelty != nil {
				outs = fmt.Sprintf("%q, %q and %q", side.Probs, side.Novelty.Output, side.Output)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "export: wrote %s and %s (%s + %d-class head; outputs %s)\n",
				out, backbone.SidecarPath(out), spec.Name, len(side.Classes), outs)
			return nil
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "model file written by train (required)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "ONNX file to write; the sidecar goes to the same path + .json (required)")
	cmd.Flags().StringVar(&bb, "backbone", "", "the backbone ONNX file, if not a built-in one (default: the model's recorded backbone)")
	for _, name := range []string{"model", "output"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}
