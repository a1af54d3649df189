package main

import (
	"strings"
	"testing"
)

func TestParseShard(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, c := range []struct {
		spec   string
		shards int
		getenv func(string) string
		want   shardSpec
		err    string
	}{
		{"2/4", 0, env(), shardSpec{2, 4}, ""},
		{"2/4", 4, env(), shardSpec{2, 4}, ""},
		{"2/4", 8, env(), shardSpec{}, "disagree"},
		{"4/4", 0, env(), shardSpec{}, "0 <= I < N"},
		{"x", 0, env(), shardSpec{}, "want I/N"},
		{"auto", 6, env("JOB_COMPLETION_INDEX", "5"), shardSpec{5, 6}, ""},
		{"auto", 0, env("JOB_COMPLETION_INDEX", "5"), shardSpec{}, "needs --shards"},
		{"auto", 0, env("SLURM_ARRAY_TASK_ID", "3", "SLURM_ARRAY_TASK_COUNT", "8"), shardSpec{3, 8}, ""},
		// Rerunning one task: the array has 1 task, --shards keeps N.
		{"auto", 8, env("SLURM_ARRAY_TASK_ID", "5", "SLURM_ARRAY_TASK_COUNT", "1", "SLURM_ARRAY_TASK_MIN", "5"), shardSpec{5, 8}, ""},
		{"auto", 0, env("SLURM_ARRAY_TASK_ID", "8", "SLURM_ARRAY_TASK_COUNT", "8"), shardSpec{}, "0 <= I < N"},
		{"auto", 0, env(), shardSpec{}, "neither JOB_COMPLETION_INDEX"},
	} {
		got, err := parseShard(c.spec, c.shards, c.getenv)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parseShard(%q, %d): %v, want error with %q", c.spec, c.shards, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parseShard(%q, %d) = %v, %v; want %v", c.spec, c.shards, got, err, c.want)
		}
	}
}
