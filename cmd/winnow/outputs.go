package main

import (
	"github.com/winnowml/winnow/internal/outfile"
)

// files is a list of (flag, path) pairs, inputs or outputs of a verb.
type files []outfile.Named

func (f files) add(flag string, paths ...string) files {
	for _, p := range paths {
		f = append(f, outfile.Named{Flag: flag, Path: p})
	}
	return f
}

// refuseOverwrite runs before any work: an output that names an input (or
// another output) would destroy it, so the verb stops with status 2, as for
// any other usage error.
func refuseOverwrite(inputs, outputs files) error {
	if err := outfile.Check(inputs, outputs); err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	return nil
}
