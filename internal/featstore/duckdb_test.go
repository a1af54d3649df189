package featstore

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestDuckDBReadsFile has DuckDB, a Parquet implementation independent of
// parquet-go, read a file we wrote. It needs node and the module installed
// by `npm ci --prefix internal/featstore/testdata`, and skips without them.
func TestDuckDBReadsFile(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not on PATH")
	}
	if _, err := os.Stat(filepath.Join("testdata", "node_modules", "@duckdb", "node-api")); err != nil {
		t.Skip("@duckdb/node-api not installed; run: npm ci --prefix internal/featstore/testdata")
	}

	const n, dim = 5000, 512
	m := testMeta(dim)
	rows := makeRows(n, dim, 11)
	rows[0].Path = `a, "quoted" ünïcode path.jpg` // sorts first
	path := filepath.Join(t.TempDir(), "f.parquet")
	writeFile(t, path, m, rows)

	cmd := exec.Command(node, filepath.Join("testdata", "check_duckdb.mjs"), path)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("check_duckdb.mjs: %v", err)
	}
	var got struct {
		Schema        []struct{ Name, Type string }
		Rows          int
		DistinctPaths int `json:"distinct_paths"`
		MinLen        int `json:"min_len"`
		MaxLen        int `json:"max_len"`
		RowGroups     int `json:"row_groups"`
		Codecs        []string
		Metadata      map[string]string
		First         []struct {
			Path, SHA256  string
			Width, Height int32
			Features      []float64
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("parsing %s: %v", out, err)
	}

	wantSchema := []struct{ Name, Type string }{
		{"path", "VARCHAR"}, {"sha256", "VARCHAR"}, {"width", "INTEGER"}, {"height", "INTEGER"}, {"features", "FLOAT[]"},
	}
	if !slices.Equal(got.Schema, wantSchema) {
		t.Errorf("DuckDB schema %v, want %v", got.Schema, wantSchema)
	}
	if got.Rows != n || got.DistinctPaths != n {
		t.Errorf("DuckDB sees %d rows, %d distinct paths, want %d", got.Rows, got.DistinctPaths, n)
	}
	if got.MinLen != dim || got.MaxLen != dim {
		t.Errorf("DuckDB feature lengths %d..%d, want %d", got.MinLen, got.MaxLen, dim)
	}
	if got.RowGroups < 2 {
		t.Errorf("DuckDB sees %d row groups, want several", got.RowGroups)
	}
	if !slices.Equal(got.Codecs, []string{"SNAPPY"}) {
		t.Errorf("DuckDB codecs %v, want [SNAPPY]", got.Codecs)
	}
	for k, v := range map[string]string{
		KeyBackbone: m.Backbone, KeyBackboneSHA256: m.BackboneSHA256, KeyDim: "512",
		KeyPreprocess: m.Preprocess, KeyVersion: m.Version,
	} {
		if got.Metadata[k] != v {
			t.Errorf("DuckDB metadata %s = %q, want %q", k, got.Metadata[k], v)
		}
	}

	// The first rows by path, value for value.
	sorted := slices.Clone(rows)
	slices.SortFunc(sorted, func(a, b Row) int {
		switch {
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
	if len(got.First) != 3 {
		t.Fatalf("DuckDB returned %d sample rows, want 3", len(got.First))
	}
	for i, g := range got.First {
		w := sorted[i]
		if g.Path != w.Path || g.SHA256 != w.SHA256 || g.Width != w.Width || g.Height != w.Height {
			t.Errorf("DuckDB row %d = %s %s %dx%d, want %s %s %dx%d", i, g.Path, g.SHA256, g.Width, g.Height, w.Path, w.SHA256, w.Width, w.Height)
		}
		if len(g.Features) != dim {
			t.Fatalf("DuckDB row %d has %d features", i, len(g.Features))
		}
		for j, v := range g.Features {
			// A float32 widened to a double is exact, so equality is right.
			if float32(v) != w.Features[j] || float64(float32(v)) != v {
				t.Fatalf("DuckDB row %d feature %d = %v, want %v", i, j, v, w.Features[j])
			}
		}
	}
}
