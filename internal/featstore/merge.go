package featstore

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Merge writes every row of srcs, in order, into dst atomically (see
// Create). Each source must be Compatible with m. A path that occurs more
// than once keeps its first occurrence in srcs order and later ones are
// skipped, so merging is idempotent and callers choose precedence by order:
// put the freshest source first. dst may be one of srcs (the old content is
// read while the new file is written beside it).
func Merge(dst string, m Meta, srcs ...string) error {
	return MergeFunc(dst, m, nil, srcs...)
}

// MergeFunc is Merge that also drops rows whose path keep rejects (keep nil
// keeps everything); featurize uses it to forget images that no longer
// exist.
//
// Memory is bounded by one batch of rows plus the set of paths seen, needed
// for the duplicate check; at ~100 bytes per path that is small next to the
// features themselves (2 KiB per row at dim 512), which are never all held.
func MergeFunc(dst string, m Meta, keep func(path string) bool, srcs ...string) error {
	w, err := Create(dst, m)
	if err != nil {
		return err
	}
	defer w.Abort()
	seen := make(map[string]struct{})
	buf := make([]Row, 256)
	out := make([]Row, 0, len(buf))
	for _, src := range srcs {
		if err := mergeOne(w, src, m, seen, keep, buf, out); err != nil {
			return err
		}
	}
	return w.Close()
}

func mergeOne(w *Writer, src string, m Meta, seen map[string]struct{}, keep func(string) bool, buf, out []Row) error {
	r, err := Open(src)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := m.Compatible(r.Meta()); err != nil {
		return fmt.Errorf("featstore: merge %s: %w", src, err)
	}
	for {
		n, err := r.ReadBatch(buf)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		out = out[:0]
		for _, row := range buf[:n] {
			if _, dup := seen[row.Path]; dup {
				continue
			}
			seen[row.Path] = struct{}{}
			if keep == nil || keep(row.Path) {
				out = append(out, row)
			}
		}
		if err := w.Write(out...); err != nil {
			return err
		}
	}
}

// Index maps image paths to the SHA-256 recorded for them, for resuming a
// featurize run without the features themselves.
type Index struct {
	sha map[string]string
}

// Lookup returns the SHA-256 recorded for path.
func (x Index) Lookup(path string) (sha256 string, ok bool) {
	sha256, ok = x.sha[path]
	return
}

// Has reports whether path is recorded with exactly this SHA-256, i.e. its
// features are current and need not be computed again.
func (x Index) Has(path, sha256 string) bool {
	s, ok := x.sha[path]
	return ok && s == sha256
}

// Len returns the number of distinct paths.
func (x Index) Len() int { return len(x.sha) }

// Contents returns the set of distinct SHA-256 digests, so identical files
// met later can reuse features already on disk.
func (x Index) Contents() map[string]struct{} {
	set := make(map[string]struct{}, len(x.sha))
	for _, s := range x.sha {
		set[s] = struct{}{}
	}
	return set
}

// LoadIndex reads path and SHA-256 of every row of the given files, skipping
// files that do not exist; the feature column is not read at all. As in
// Merge, the first occurrence of a path wins. The returned Meta is that of
// the first existing file (zero if none exists); a later file that is not
// Compatible with it is an error. Callers must still check the Meta against
// the backbone they are about to run: an index of vectors from another
// backbone says nothing about what is done.
func LoadIndex(paths ...string) (Index, Meta, error) {
	x := Index{sha: make(map[string]string)}
	var meta Meta
	first := true
	for _, p := range paths {
		r, err := Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return Index{}, Meta{}, err
		}
		if first {
			meta, first = r.Meta(), false
		} else if err := meta.Compatible(r.Meta()); err != nil {
			r.Close()
			return Index{}, Meta{}, fmt.Errorf("featstore: index %s: %w", p, err)
		}
		err = r.scanKeys(func(path, sha string) {
			if _, ok := x.sha[path]; !ok {
				x.sha[path] = sha
			}
		})
		r.Close()
		if err != nil {
			return Index{}, Meta{}, err
		}
	}
	return x, meta, nil
}
