package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/backbone"
)

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print winnow's version and the ONNX Runtime it loads",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "winnow %s (%s)\n", version, runtime.Version())
			if err := backbone.Init(g.ortLib); err != nil {
				fmt.Fprintf(out, "ONNX Runtime: not loaded: %v\n", err)
				return nil
			}
			fmt.Fprintf(out, "ONNX Runtime %s from %s\n", backbone.RuntimeVersion(), backbone.LibraryPath())
			return nil
		},
	}
}
