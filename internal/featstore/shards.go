package featstore

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Shards.
//
// A sharded featurize run writes, for shard I of N, DIR/part-I-of-N.parquet
// (a feature file like any other) and DIR/part-I-of-N.errors.jsonl (the
// paths it could not featurize). Both appear only when the shard finished;
// a shard killed mid-way leaves its chunks in part-I-of-N.parquet.parts/
// and resumes from them when rerun. The folder is therefore a plain Parquet
// dataset (DuckDB: read_parquet('DIR/*.parquet')) whose complete shards are
// readable while others still run.

// ShardFile is where shard i of n writes its rows.
func ShardFile(dir string, i, n int) string {
	return filepath.Join(dir, fmt.Sprintf("part-%d-of-%d.parquet", i, n))
}

// ShardErrorsFile is where shard i of n lists its failures.
func ShardErrorsFile(dir string, i, n int) string {
	return filepath.Join(dir, fmt.Sprintf("part-%d-of-%d.errors.jsonl", i, n))
}

var shardName = regexp.MustCompile(`^part-(\d+)-of-(\d+)\.parquet$`)

// MergeShardsOptions tunes MergeShards.
type MergeShardsOptions struct {
	// Manifest, if set, lists every path the shards were given: each must
	// have a row or an error line, and no row may be outside it.
	Manifest []string
	// Shard maps a path to its shard of n, to catch a part written with
	// another N or another manifest; nil skips that check.
	Shard func(path string, n int) int
	// Context stops a long merge (millions of rows) between batches;
	// nil never stops.
	Context context.Context
}

// ShardError says why a shard folder cannot be merged; Problems names each
// missing or inconsistent piece, so the user knows which indexes to rerun.
type ShardError struct {
	Dir      string
	Problems []string
}

func (e *ShardError) Error() string {
	const show = 20
	p := e.Problems
	more := ""
	if len(p) > show {
		more = fmt.Sprintf("\n  ... and %d more", len(p)-show)
		p = p[:show]
	}
	return fmt.Sprintf("%s is not a complete set of shards:\n  %s%s", e.Dir, strings.Join(p, "\n  "), more)
}

// MergeShards checks that dir holds every shard of one run, complete and
// consistent, and writes their rows to dst atomically (see Create). It
// reads the keys of every part first and writes nothing unless all checks
// pass. It returns the Meta of the parts and the number of rows written.
func MergeShards(dir, dst string, opt MergeShardsOptions) (Meta, int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Meta{}, 0, fmt.Errorf("featstore: %w", err)
	}
	counts := map[int][]int{} // N -> indexes present
	for _, e := range entries {
		m := shardName.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[2])
		counts[n] = append(counts[n], i)
	}
	bad := &ShardError{Dir: dir}
	if len(counts) == 0 {
		bad.Problems = append(bad.Problems, "no part-I-of-N.parquet files")
		return Meta{}, 0, bad
	}
	if len(counts) > 1 {
		var ns []string
		for n := range counts {
			ns = append(ns, strconv.Itoa(n))
		}
		sort.Strings(ns)
		bad.Problems = append(bad.Problems, fmt.Sprintf("parts of runs with different shard counts (N = %s): keep one run per folder", strings.Join(ns, ", ")))
		return Meta{}, 0, bad
	}
	var n int
	for k := range counts {
		n = k
	}
	have := map[int]bool{}
	for _, i := range counts[n] {
		have[i] = true
	}
	var present []int
	for i := 0; i < n; i++ {
		part := ShardFile(dir, i, n)
		switch {
		case !have[i]:
			why := "never finished"
			if _, err := os.Stat(PartsDir(part)); err == nil {
				why = "started, not finished (its chunks are in " + filepath.Base(PartsDir(part)) + ")"
			}
			bad.Problems = append(bad.Problems, fmt.Sprintf("shard %d of %d missing: %s %s; rerun index %d", i, n, filepath.Base(part), why, i))
			continue
		case fileMissing(ShardErrorsFile(dir, i, n)):
			bad.Problems = append(bad.Problems, fmt.Sprintf("shard %d of %d incomplete: %s has no %s; rerun index %d", i, n, filepath.Base(part), filepath.Base(ShardErrorsFile(dir, i, n)), i))
			continue
		case !fileMissing(PartsDir(part)):
			bad.Problems = append(bad.Problems, fmt.Sprintf("shard %d of %d: a later rerun was interrupted (%s exists); rerun index %d", i, n, filepath.Base(PartsDir(part)), i))
			continue
		}
		present = append(present, i)
	}

	// Keys of every row, checked before anything is written.
	var meta Meta
	owner := map[string]int{} // path -> shard holding its row
	failed := map[string]int{}
	for k, i := range present {
		part := ShardFile(dir, i, n)
		r, err := Open(part)
		if err != nil {
			bad.Problems = append(bad.Problems, fmt.Sprintf("shard %d of %d: %v", i, n, err))
			continue
		}
		if k == 0 {
			meta = r.Meta()
		} else if err := meta.Compatible(r.Meta()); err != nil {
			bad.Problems = append(bad.Problems, fmt.Sprintf("shard %d of %d: made with another backbone than shard %d: %v", i, n, present[0], err))
		}
		err = r.scanKeys(func(path, _ string) {
			if j, dup := owner[path]; dup {
				bad.Problems = append(bad.Problems, fmt.Sprintf("%q has rows in shards %d and %d", path, j, i))
				return
			}
			owner[path] = i
			if opt.Shard != nil && opt.Shard(path, n) != i {
				bad.Problems = append(bad.Problems, fmt.Sprintf("%q is in shard %d but belongs to shard %d of %d (a part from another run?)", path, i, opt.Shard(path, n), n))
			}
		})
		r.Close()
		if err != nil {
			bad.Problems = append(bad.Problems, fmt.Sprintf("shard %d of %d: %v", i, n, err))
		}
		if err := readErrorPaths(ShardErrorsFile(dir, i, n), func(p string) { failed[p] = i }); err != nil {
			bad.Problems = append(bad.Problems, fmt.Sprintf("shard %d of %d: %v", i, n, err))
		}
	}
	if opt.Manifest != nil && len(bad.Problems) == 0 {
		listed := make(map[string]bool, len(opt.Manifest))
		for _, p := range opt.Manifest {
			listed[p] = true
			if _, ok := owner[p]; ok {
				continue
			}
			if _, ok := failed[p]; ok {
				continue
			}
			s := ""
			if opt.Shard != nil {
				s = fmt.Sprintf(" (shard %d of %d)", opt.Shard(p, n), n)
			}
			bad.Problems = append(bad.Problems, fmt.Sprintf("%q: in the manifest, neither featurized nor in the errors%s", p, s))
		}
		var extra []string
		for p := range owner {
			if !listed[p] {
				extra = append(extra, p)
			}
		}
		sort.Strings(extra)
		for _, p := range extra {
			bad.Problems = append(bad.Problems, fmt.Sprintf("%q has a row in shard %d but is not in the manifest", p, owner[p]))
		}
	}
	if len(bad.Problems) > 0 {
		return Meta{}, 0, bad
	}

	ctx := opt.Context
	if ctx == nil {
		ctx = context.Background()
	}
	w, err := Create(dst, meta)
	if err != nil {
		return Meta{}, 0, err
	}
	defer w.Abort()
	buf := make([]Row, 256)
	for _, i := range present {
		if err := copyRows(ctx, w, ShardFile(dir, i, n), buf); err != nil {
			return Meta{}, 0, err
		}
	}
	if err := w.Close(); err != nil {
		return Meta{}, 0, err
	}
	return meta, len(owner), nil
}

// copyRows appends every row of src to w, checking ctx between batches.
func copyRows(ctx context.Context, w *Writer, src string, buf []Row) error {
	r, err := Open(src)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.ReadBatch(buf)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := w.Write(buf[:n]...); err != nil {
			return err
		}
	}
}

func fileMissing(p string) bool {
	_, err := os.Stat(p)
	return errors.Is(err, os.ErrNotExist)
}

// readErrorPaths calls fn with the path of every line of a featurize
// errors file (JSON lines {"path","error","kind"}).
func readErrorPaths(file string, fn func(path string)) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			var rec struct{ Path *string }
			if jerr := json.Unmarshal(b, &rec); jerr != nil || rec.Path == nil {
				return fmt.Errorf("%s:%d: not an errors line {\"path\",\"error\",\"kind\"}", filepath.Base(file), line)
			}
			fn(*rec.Path)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
