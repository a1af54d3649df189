package project

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/imageset"
)

// checkInputs reads every input of init before anything is written: the
// backbone, the images and the gold file (that it parses, names images of
// the image source and uses the project's classes), so that a mistake in
// any of them stops init with a message naming the flag and an untouched
// folder.
func checkInputs(ctx context.Context, cfg Config, abs string, opt InitOptions) error {
	if _, _, _, err := backbone.Resolve(cfg.Backbone); err != nil {
		return fmt.Errorf("--backbone: %w", err)
	}
	src := cfg.imageSource(abs)
	items, err := imageset.List(src)
	if err != nil {
		return fmt.Errorf("--images: %w", err)
	}
	if len(items) == 0 {
		return fmt.Errorf("--images: no images in %s (looked for %s)", src, strings.Join(imageset.Extensions, " "))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if opt.Gold == "" {
		return nil
	}
	col := opt.GoldLabelColumn
	if col == "" {
		col = "label"
	}
	labels, err := dataset.ReadLabels(opt.Gold, col)
	if err != nil {
		return fmt.Errorf("--gold: %w", err)
	}
	known := make(map[string]bool, len(items))
	for _, it := range items {
		known[it.Path] = true
	}
	classes := map[string]bool{}
	for _, c := range cfg.Classes {
		classes[c.Name] = true
	}
	var matched, inClass int
	var unknown, others []string
	for _, p := range labels.Order {
		if !known[p] && !known[importPath(p)] {
			if len(unknown) < 3 {
				unknown = append(unknown, fmt.Sprintf("%q", p))
			}
			continue
		}
		matched++
		switch lab := labels.ByPath[p]; {
		case classes[lab]:
			inClass++
		case lab != "" && len(others) < 5:
			others = append(others, fmt.Sprintf("%q", lab))
		}
	}
	switch {
	case len(labels.Order) == 0:
		return fmt.Errorf("--gold %s: no rows", opt.Gold)
	case matched == 0:
		return fmt.Errorf("--gold %s: none of its %d paths is an image of %s (e.g. %s); paths are relative to the image folder, as featurize records them",
			opt.Gold, len(labels.Order), src, strings.Join(unknown, ", "))
	case inClass == 0:
		return fmt.Errorf("--gold %s: no label of its %d matching rows is one of --classes (%s); it has %s",
			opt.Gold, matched, strings.Join(cfg.ClassNames(), ","), strings.Join(others, ", "))
	}
	return nil
}

// importPath is how a labels file's path is matched when it is not found
// verbatim: with / separators and cleaned (a CSV written on Windows, or
// with ./ in front).
func importPath(p string) string { return path.Clean(strings.ReplaceAll(p, `\`, "/")) }

// created remembers which of a project's entries existed before init, so
// that a failed init removes exactly what it wrote and nothing else (the
// image folder may lie inside the project folder).
type created struct {
	dir     string
	existed map[string]bool // entry (relative; "" for dir itself) -> existed before
}

// initEntries are what init may create inside the project folder.
var initEntries = []string{ConfigFile, DBFile, DBFile + "-wal", DBFile + "-shm", FeaturesDir, LabelsDir, PicksDir, ModelsDir, ReportsDir}

func newCreated(dir string) (*created, error) {
	c := &created{dir: dir, existed: map[string]bool{}}
	for _, e := range append([]string{""}, initEntries...) {
		_, err := os.Lstat(filepath.Join(dir, e))
		switch {
		case err == nil:
			c.existed[e] = true
		case !errors.Is(err, os.ErrNotExist):
			return nil, err
		}
	}
	return c, nil
}

// finish turns init's error into the message the user needs: interrupted,
// everything stays for the same command to resume; failed, what this init
// created is removed (a resumed init's earlier work stays resumable).
func (c *created) finish(ctx context.Context, err error, resuming bool, dir string) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%w\ninit: interrupted; what it wrote is kept in %s: run the same winnow init again to resume", err, dir)
	case resuming:
		return fmt.Errorf("%w\ninit: the unfinished project in %s is kept: correct the input and run winnow init again to resume, or delete %s to start over", err, dir, dir)
	}
	var left []string
	for _, e := range initEntries {
		if c.existed[e] {
			continue
		}
		if rmErr := os.RemoveAll(filepath.Join(c.dir, e)); rmErr != nil {
			left = append(left, e)
		}
	}
	if !c.existed[""] {
		os.Remove(c.dir) // only if empty: anything else in it is not init's
	}
	if len(left) > 0 {
		return fmt.Errorf("%w\ninit: could not remove %s from %s; delete them before running init again", err, strings.Join(left, ", "), dir)
	}
	return fmt.Errorf("%w\ninit: nothing is left of it in %s; run it again once the input is corrected", err, dir)
}
