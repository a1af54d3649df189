package featstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Resuming featurize.
//
// A featurize run writing <out> saves progress as numbered chunk files in
// <out>.parts/, each written with Create/Close so it is complete or absent.
// A crash therefore loses at most the chunk being written. The next run calls
// ResumeIndex to skip images already done, adds more chunks, and at the end
// Consolidate folds <out> and the chunks into a new <out> and removes the
// directory. Consolidate is idempotent, so a crash during it is harmless too.
//
// Precedence: an image re-featurized because its bytes changed appears both
// in the old <out> and in a newer chunk; newer wins. Parts are therefore
// passed newest first, then <out>, relying on Merge/LoadIndex keeping the
// first occurrence.
//
// Two runs writing the same <out> at once are not supported.

// The chunk naming matches what internal/featurize writes, so either can
// finish the other's run.
const partPrefix, partSuffix = "chunk-", ".parquet"

// PartsDir returns the directory holding the chunks of an unfinished run
// writing out.
func PartsDir(out string) string { return out + ".parts" }

// Parts lists the complete chunk files of out, oldest first. A missing
// directory means no chunks.
func Parts(out string) ([]string, error) {
	nums, err := partNumbers(PartsDir(out))
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(nums))
	for i, n := range nums {
		paths[i] = partPath(out, n)
	}
	return paths, nil
}

func partPath(out string, n int) string {
	return filepath.Join(PartsDir(out), fmt.Sprintf("%s%06d%s", partPrefix, n, partSuffix))
}

// partNumbers returns the sorted numbers of the chunks in dir. Writer temp
// files start with a dot and so never match.
func partNumbers(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("featstore: %w", err)
	}
	var nums []int
	for _, e := range entries {
		name := e.Name()
		digits, ok := strings.CutPrefix(name, partPrefix)
		if !ok || e.IsDir() {
			continue
		}
		digits, ok = strings.CutSuffix(digits, partSuffix)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(digits)
		if err != nil || n < 0 {
			continue
		}
		nums = append(nums, n)
	}
	slices.Sort(nums)
	return nums, nil
}

// CreatePart starts the next chunk of out. Close it to make it count.
func CreatePart(out string, m Meta) (*Writer, error) {
	dir := PartsDir(out)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("featstore: %w", err)
		}
		// Make the new directory itself durable, or a crash could lose
		// every chunk in it.
		if err := syncDir(filepath.Dir(out)); err != nil {
			return nil, fmt.Errorf("featstore: %w", err)
		}
	}
	nums, err := partNumbers(dir)
	if err != nil {
		return nil, err
	}
	next := 1
	if len(nums) > 0 {
		next = nums[len(nums)-1] + 1
	}
	return Create(partPath(out, next), m)
}

// resumeSources returns the files holding out's rows in precedence order:
// chunks newest first, then out itself if it exists.
func resumeSources(out string) ([]string, error) {
	parts, err := Parts(out)
	if err != nil {
		return nil, err
	}
	slices.Reverse(parts)
	if _, err := os.Stat(out); err == nil {
		parts = append(parts, out)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("featstore: %w", err)
	}
	return parts, nil
}

// ResumeIndex returns what is already done for out: the newest SHA-256 of
// every path in out and its chunks, and their Meta (zero if there is
// nothing yet). See LoadIndex for what the caller must check.
func ResumeIndex(out string) (Index, Meta, error) {
	srcs, err := resumeSources(out)
	if err != nil {
		return Index{}, Meta{}, err
	}
	return LoadIndex(srcs...)
}

// Consolidate merges out's chunks (newest first) and the existing out into a
// new out written with m, dropping paths keep rejects (keep nil keeps all),
// then removes the chunk directory. With no chunks and keep nil there is
// nothing to do. If out does not exist and there are no chunks, out is
// created empty when keep is non-nil, so a run over an empty folder still
// produces a file.
func Consolidate(out string, m Meta, keep func(path string) bool) error {
	parts, err := Parts(out)
	if err != nil {
		return err
	}
	if len(parts) == 0 && keep == nil {
		return nil
	}
	srcs, err := resumeSources(out)
	if err != nil {
		return err
	}
	if err := MergeFunc(out, m, keep, srcs...); err != nil {
		return err
	}
	if err := os.RemoveAll(PartsDir(out)); err != nil {
		return fmt.Errorf("featstore: %w", err)
	}
	if err := syncDir(filepath.Dir(out)); err != nil {
		return fmt.Errorf("featstore: %w", err)
	}
	return nil
}
