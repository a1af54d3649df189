package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// shardSpec is which slice of a manifest this process featurizes.
type shardSpec struct{ index, count int }

// parseShard reads --shard I/N, or --shard auto: the index a cluster engine
// gives each task. Kubernetes Indexed Jobs set JOB_COMPLETION_INDEX but not
// the count (it is the Job's completions, passed as --shards); Slurm arrays
// set SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT. The task ID is the
// shard index as is, so arrays start at 0; --shards wins over the count, so
// that rerunning one failed task (sbatch --array=5, a count of 1) still
// knows N.
func parseShard(spec string, shards int, getenv func(string) string) (shardSpec, error) {
	if spec == "auto" {
		if v := getenv("JOB_COMPLETION_INDEX"); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil {
				return shardSpec{}, fmt.Errorf("--shard auto: JOB_COMPLETION_INDEX=%q is not a number", v)
			}
			if shards <= 0 {
				return shardSpec{}, fmt.Errorf("--shard auto under a Kubernetes Indexed Job needs --shards N (the Job's completions)")
			}
			return checkShard(i, shards)
		}
		if v := getenv("SLURM_ARRAY_TASK_ID"); v != "" {
			id, err1 := strconv.Atoi(v)
			n, err2 := strconv.Atoi(getenv("SLURM_ARRAY_TASK_COUNT"))
			if shards > 0 {
				n, err2 = shards, nil
			}
			if err1 != nil || err2 != nil {
				return shardSpec{}, fmt.Errorf("--shard auto: SLURM_ARRAY_TASK_ID=%q, SLURM_ARRAY_TASK_COUNT=%q: want numbers", v, getenv("SLURM_ARRAY_TASK_COUNT"))
			}
			return checkShard(id, n)
		}
		return shardSpec{}, fmt.Errorf("--shard auto: neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID (Slurm array) is set; give --shard I/N")
	}
	is, ns, ok := strings.Cut(spec, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil {
		return shardSpec{}, fmt.Errorf("--shard %q: want I/N (e.g. 0/4) or auto", spec)
	}
	if shards > 0 && shards != n {
		return shardSpec{}, fmt.Errorf("--shard %s and --shards %d disagree", spec, shards)
	}
	return checkShard(i, n)
}

func checkShard(i, n int) (shardSpec, error) {
	if n < 1 || i < 0 || i >= n {
		return shardSpec{}, fmt.Errorf("shard %d of %d: want 0 <= I < N", i, n)
	}
	return shardSpec{i, n}, nil
}

// shardDir checks the output folder of a sharded run, creating it: every
// shard of a cluster job may be the first to get there. -o x.parquet is the
// unsharded habit; taken as a folder, it would leave a folder named like a
// file that DuckDB and merge's users then open as one, so it is refused
// before anything is created. A trailing / says the name is meant.
func shardDir(dir string) error {
	if strings.HasSuffix(strings.ToLower(dir), ".parquet") {
		return usageError("with --shard, -o is the folder the parts go to (it gets part-I-of-N.parquet); %s is a file name: give a folder, e.g. -o shards/ (or end it with / to use this name for a folder)", dir)
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return usageError("with --shard, -o is the folder the parts go to; %s is a file", dir)
	}
	return os.MkdirAll(dir, 0o755)
}
