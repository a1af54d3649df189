package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/classifier"
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
  outputs "probs" (batch x classes, in the model's class order) and the
          feature vector under the backbone's output name

and writes classifier.onnx.json beside it, in featurize's sidecar format plus
"probs", "classes" and "resize" (how images were fitted to the input when the
training features were made). Any ONNX runtime can then classify images
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
			if mf.Backbone.SHA256 == "" {
				return fmt.Errorf("%s was trained on CSV features, which record no backbone: nothing to export the head with", model)
			}
			src := bb
			if src == "" {
				src = recordedBackbone(mf.Backbone.Name)
			}
			data, _, spec, err := backbone.Resolve(src)
			if err != nil {
				return fmt.Errorf("the model's backbone %s: %w (give the file with --backbone)", mf.Backbone.Name, err)
			}
			sum := sha256.Sum256(data)
			if got := hex.EncodeToString(sum[:]); got != mf.Backbone.SHA256 {
				return fmt.Errorf("backbone %s has sha256 %.12s, the model was trained on features of %.12s: not the same file", src, got, mf.Backbone.SHA256)
			}
			resize := resizeOf(mf.Backbone.Preprocess)
			if want := spec.Describe(resize); want != mf.Backbone.Preprocess {
				return fmt.Errorf("the backbone's preprocessing (%s) differs from the training features' (%s)", want, mf.Backbone.Preprocess)
			}
			graph, side, err := export.Classifier(data, spec, mf.Model, resize)
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
			fmt.Fprintf(cmd.ErrOrStderr(), "export: wrote %s and %s (%s + %d-class head; outputs %q and %q)\n",
				out, backbone.SidecarPath(out), spec.Name, len(side.Classes), side.Probs, side.Output)
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

// recordedBackbone turns the name a feature file records back into what
// backbone.Resolve takes: generated pixel backbones are recorded as
// pixels-HxW-channels and resolved as pixels:HxW:channels.
func recordedBackbone(name string) string {
	if rest, ok := strings.CutPrefix(name, "pixels-"); ok {
		return "pixels:" + strings.ReplaceAll(rest, "-", ":")
	}
	return name
}

// resizeOf reads the resize mode from a preprocessing description
// (backbone.Spec.Describe).
func resizeOf(preprocess string) string {
	for _, f := range strings.Fields(preprocess) {
		if v, ok := strings.CutPrefix(f, "resize="); ok {
			return v
		}
	}
	return ""
}
