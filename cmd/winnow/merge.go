package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/imageset"
)

func newMergeCmd() *cobra.Command {
	var out, manifest string
	cmd := &cobra.Command{
		Use:   "merge DIR -o ALL.parquet [--manifest MANIFEST]",
		Short: "Join the shards of a sharded featurize run into one feature file",
		Long: `merge reads DIR/part-I-of-N.parquet for every I of N, as written by
"winnow featurize SOURCE --shard I/N -o DIR", and writes all their rows to one
file. It first checks that every shard is there and finished (with its
part-I-of-N.errors.jsonl), that all used the same backbone and
preprocessing, that no path has two rows and each is in the shard its hash
says; with --manifest, that every entry of the manifest was featurized or
reported as an error, and nothing else was. If anything is wrong it names
each problem (and the indexes to rerun) and writes nothing.`,
		Example: `  winnow features merge shards/ -o features.parquet --manifest images.csv`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if out == "" {
				return usageError("features merge: -o ALL.parquet is required")
			}
			in := files{}.add("DIR", dir).add("--manifest", manifest)
			parts, _ := filepath.Glob(filepath.Join(dir, "part-*"))
			in = in.add("DIR", parts...)
			if err := refuseOverwrite(in, files{}.add("-o", out)); err != nil {
				return err
			}
			if rel, err := filepath.Rel(dir, out); err == nil && filepath.Dir(rel) == "." && shardLike(filepath.Base(out)) {
				return exitError{code: 2, msg: fmt.Sprintf("-o %s would be taken for a shard of %s next time: write it elsewhere", out, dir)}
			}
			opt := featstore.MergeShardsOptions{Shard: imageset.Shard, Context: cmd.Context()}
			if manifest != "" {
				items, err := imageset.List(manifest)
				if err != nil {
					return err
				}
				for _, it := range items {
					opt.Manifest = append(opt.Manifest, it.Path)
				}
			}
			if err := cmd.Context().Err(); err != nil {
				return err
			}
			m, n, err := featstore.MergeShards(dir, out, opt)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "features merge: wrote %s (%d rows, %s, %d features per image)\n", printable(out, false), n, m.Backbone, m.Dim)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "feature file to write (required)")
	cmd.Flags().StringVar(&manifest, "manifest", "", "the SOURCE the shards were made from: check every entry is accounted for")
	return cmd
}

func shardLike(name string) bool {
	var i, n int
	_, err := fmt.Sscanf(name, "part-%d-of-%d.parquet", &i, &n)
	return err == nil
}
