package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/tfjs"
)

func newBackboneCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backbone",
		Short: "Make ONNX backbones for featurize",
	}
	var (
		out     string
		taps    []string
		name    string
		list    bool
		noProbs bool
	)
	imp := &cobra.Command{
		Use:   "import-tfjs SRC -o NAME.onnx [--tap LAYER[,LAYER...]]",
		Short: "Convert a TF.js layers (Keras) model to an ONNX backbone with its sidecar",
		Long: `Converts a TensorFlow.js layers model -- SRC is its model.json, or a folder
holding model.json or nsfwjs' model.min.js with the weight shards beside it --
into NAME.onnx and the sidecar NAME.onnx.json that featurize reads.

The graph takes NHWC float RGB images and outputs "features": the spatial
mean of each --tap layer, concatenated (default: the Flatten or global average
pool before the classifier head), and "probs", the model's own output (left
out with --no-probs, which also drops the layers only it needs).

The sidecar says pixels go in as v/255 (scale 255, mean 0, std 1), which is
how nsfwjs feeds its models. A model trained on other inputs, e.g. [-1, 1],
needs its sidecar's mean and std edited (0.5 and 0.5 for [-1, 1]).

  winnow backbone import-tfjs .deps/nsfwjs/mobilenet_v2 --list-layers
  winnow backbone import-tfjs .deps/nsfwjs/mobilenet_v2 -o mnv2.onnx --tap block_13_expand_relu`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !list && out == "" {
				return errors.New("-o NAME.onnx is required (or --list-layers)")
			}
			if !list {
				if err := refuseOverwrite(tfjsInputs(args[0]), files{}.add("-o", out).add("-o (sidecar)", backbone.SidecarPath(out))); err != nil {
					return err
				}
			}
			m, err := tfjs.LoadContext(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if list {
				return listLayers(cmd, m)
			}
			res, err := tfjs.ConvertContext(cmd.Context(), m, tfjs.Options{Name: name, Taps: taps, NoProbs: noProbs})
			if err != nil {
				return err
			}
			if err := res.Save(out); err != nil {
				return err
			}
			var parts []string
			for _, t := range res.Taps {
				parts = append(parts, fmt.Sprintf("%s (%s -> %d)", t.Layer, t.Shape, t.Dim))
			}
			fmt.Fprintf(w, "wrote %s and %s\n", printable(out, false), printable(out+".json", false))
			fmt.Fprintf(w, "input:    %s NHWC %dx%dx3, RGB/255\n", tfjs.InputName, res.Spec.Input.Size[0], res.Spec.Input.Size[1])
			fmt.Fprintf(w, "features: %d = %s\n", res.Dim, strings.Join(parts, " + "))
			if res.Probs != nil {
				fmt.Fprintf(w, "probs:    %s (the model's output)\n", res.Probs)
			}
			return nil
		},
	}
	f := imp.Flags()
	f.StringVarP(&out, "output", "o", "", "ONNX file to write; the sidecar goes to the same path + .json")
	f.StringSliceVar(&taps, "tap", nil, "layers whose global average pools make the features (default: the layer before the classifier head)")
	f.StringVar(&name, "name", "", "backbone name in the sidecar (default: the output file's base name)")
	f.BoolVar(&list, "list-layers", false, "print every layer's name, type and output shape, then exit")
	f.BoolVar(&noProbs, "no-probs", false, "leave out the model's own output, and the layers only it needs")
	cmd.AddCommand(imp, newBackboneListCmd(), newBackboneInstallCmd())
	return cmd
}

func newBackboneListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Show the built-in backbones: dimension, input size, where the weights come from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, _ := backbone.BackbonesDir()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDIM\tINPUT\tSTATE\tWEIGHTS\tDESCRIPTION")
			for i, b := range backbone.Builtins() {
				state := "built in"
				if b.Imported() {
					state = "not installed (make deps)"
					if _, err := os.Stat(filepath.Join(dir, b.File())); dir != "" && err == nil {
						state = "installed"
					}
				}
				name := b.Name
				if i == 0 {
					name += " (default)"
				}
				fmt.Fprintf(tw, "%s\t%d\t%dx%d\t%s\t%s\t%s\n", name, b.Dim, b.Size[0], b.Size[1], state, b.Source, b.Description)
			}
			return tw.Flush()
		},
	}
}

func newBackboneInstallCmd() *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "install --from NSFWJS_MODELS --to DIR",
		Short: "Convert the built-in backbones from the nsfwjs package's Keras models (make deps runs this)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(to, 0o755); err != nil {
				return err
			}
			for _, b := range backbone.Builtins() {
				if !b.Imported() {
					continue
				}
				m, err := tfjs.LoadContext(cmd.Context(), filepath.Join(from, b.FromModel))
				if err != nil {
					return fmt.Errorf("%s: %w", b.Name, err)
				}
				res, err := tfjs.ConvertContext(cmd.Context(), m, tfjs.Options{Name: b.Name, Taps: b.Taps, NoProbs: true})
				if err != nil {
					return fmt.Errorf("%s: %w", b.Name, err)
				}
				if res.Dim != b.Dim {
					return fmt.Errorf("%s: converted to %d features, the registry says %d", b.Name, res.Dim, b.Dim)
				}
				if err := res.Save(filepath.Join(to, b.File())); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "backbone: %s -> %s (%d features)\n", b.Name, filepath.Join(to, b.File()), res.Dim)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", ".deps/nsfwjs", "folder with nsfwjs' models (scripts/fetch-nsfwjs.sh)")
	cmd.Flags().StringVar(&to, "to", ".deps/backbones", "folder to write the ONNX backbones to")
	return cmd
}

// tfjsInputs are the files a TF.js model is read from: SRC and, as the
// weight shards sit beside model.json, every file of its folder.
func tfjsInputs(src string) files {
	in := files{}.add("SRC", src)
	dir := src
	if st, err := os.Stat(src); err == nil && !st.IsDir() {
		dir = filepath.Dir(src)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Type().IsRegular() {
			in = in.add("SRC", filepath.Join(dir, e.Name()))
		}
	}
	return in
}

func listLayers(cmd *cobra.Command, m *tfjs.Model) error {
	layers, err := m.Summary()
	if err != nil {
		return err
	}
	def, _ := m.DefaultTap()
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tTYPE\tOUTPUT\tTAP DIM\tNOTE")
	for _, l := range layers {
		note := ""
		if l.Name == def {
			note = "default tap"
		}
		if l.Err != nil {
			note = "cannot convert: " + l.Err.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", l.Name, l.Class, l.Shape, l.FeatureDim(), note)
	}
	return tw.Flush()
}
