package featstore

import (
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fnvShard(p string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(p))
	return int(h.Sum64() % uint64(n))
}

// writeShards splits rows by fnvShard into dir as a 3-shard run would,
// with an errors file listing extra failed paths.
func writeShards(t *testing.T, dir string, m Meta, rows []Row, failed []string) {
	t.Helper()
	const n = 3
	for i := 0; i < n; i++ {
		var mine []Row
		for _, r := range rows {
			if fnvShard(r.Path, n) == i {
				mine = append(mine, r)
			}
		}
		writeFile(t, ShardFile(dir, i, n), m, mine)
		var lines string
		for _, p := range failed {
			if fnvShard(p, n) == i {
				lines += `{"path":"` + p + `","error":"x","kind":"corrupt"}` + "\n"
			}
		}
		os.WriteFile(ShardErrorsFile(dir, i, n), []byte(lines), 0o644)
	}
}

func TestMergeShardsChecks(t *testing.T) {
	m := testMeta(8)
	rows := makeRows(60, 8, 3)
	failed := []string{"bad/1.jpg", "bad/2.jpg"}
	manifest := append([]string{}, failed...)
	for _, r := range rows {
		manifest = append(manifest, r.Path)
	}
	opt := MergeShardsOptions{Manifest: manifest, Shard: fnvShard}

	dir := t.TempDir()
	writeShards(t, dir, m, rows, failed)
	out := filepath.Join(t.TempDir(), "all.parquet")
	if _, n, err := MergeShards(dir, out, opt); err != nil || n != len(rows) {
		t.Fatalf("complete shards: %d rows, %v", n, err)
	}
	r, err := Open(out)
	if err != nil || r.NumRows() != int64(len(rows)) {
		t.Fatalf("merged file: %v", err)
	}
	r.Close()

	for _, c := range []struct {
		name  string
		spoil func(dir string)
		want  string
	}{
		{"errors file missing", func(d string) { os.Remove(ShardErrorsFile(d, 1, 3)) }, "shard 1 of 3 incomplete"},
		{"part missing", func(d string) { os.Remove(ShardFile(d, 2, 3)) }, "shard 2 of 3 missing"},
		{"another N", func(d string) { writeFile(t, ShardFile(d, 0, 2), m, nil) }, "different shard counts (N = 2, 3)"},
		{"another backbone", func(d string) {
			m2 := m
			m2.Backbone = "other"
			var mine []Row
			for _, r := range rows {
				if fnvShard(r.Path, 3) == 1 {
					mine = append(mine, r)
				}
			}
			writeFile(t, ShardFile(d, 1, 3), m2, mine)
		}, "made with another backbone"},
		{"duplicate path", func(d string) {
			// shard 0's rows plus one row of shard 1.
			var mine []Row
			var extra Row
			for _, r := range rows {
				switch fnvShard(r.Path, 3) {
				case 0:
					mine = append(mine, r)
				case 1:
					extra = r
				}
			}
			writeFile(t, ShardFile(d, 0, 3), m, append(mine, extra))
		}, "has rows in shards"},
		{"lost from manifest", func(d string) { os.WriteFile(ShardErrorsFile(d, fnvShard("bad/1.jpg", 3), 3), nil, 0o644) }, `"bad/1.jpg": in the manifest, neither featurized nor in the errors`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeShards(t, dir, m, rows, failed)
			c.spoil(dir)
			out := filepath.Join(t.TempDir(), "all.parquet")
			_, _, err := MergeShards(dir, out, opt)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error saying %q", err, c.want)
			}
			if _, serr := os.Stat(out); serr == nil {
				t.Error("output written despite the problem")
			}
		})
	}
}
