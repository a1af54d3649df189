package featstore

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// readByPath reads every row of a file with Open.
func readByPath(t *testing.T, path string) (Meta, map[string][]float32) {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := map[string][]float32{}
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.Meta(), got
		}
		if err != nil {
			t.Fatal(err)
		}
		got[row.Path] = row.Features
	}
}

// A Parquet file that another tool wrote, with the same data but not
// featurize's layout (nullable columns, doubles, other column order, extra
// columns, no winnow metadata), is read; its backbone is unknown.
func TestForeignParquet(t *testing.T) {
	type foreign struct {
		ID       int64     `parquet:"id"`
		Features []float64 `parquet:"features,list"`
		Path     *string   `parquet:"path,optional"`
	}
	p := filepath.Join(t.TempDir(), "foreign.parquet")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[foreign](f)
	want := map[string][]float32{}
	var rows []foreign
	for i, name := range []string{"b.jpg", "a.jpg", " c.jpg"} {
		s := name
		v := []float64{float64(i), 0.5, -1e30}
		rows = append(rows, foreign{ID: int64(i), Features: v, Path: &s})
		want[name] = []float32{float32(i), 0.5, -1e30}
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	meta, got := readByPath(t, p)
	if meta.Dim != 3 || meta.Backbone != "" || meta.BackboneSHA256 != "" {
		t.Errorf("meta %+v, want dim 3 and no backbone", meta)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
	for k, v := range want {
		if !slicesEqual(got[k], v) {
			t.Errorf("%q: %v, want %v", k, got[k], v)
		}
	}

	// Without the columns, the message lists the file's columns, not a
	// schema dump.
	type other struct {
		Name string    `parquet:"name"`
		Vec  []float32 `parquet:"vec,list"`
	}
	q := filepath.Join(t.TempDir(), "other.parquet")
	if err := parquet.WriteFile(q, []other{{"x", []float32{1}}}); err != nil {
		t.Fatal(err)
	}
	_, err = Open(q)
	if err == nil || !strings.Contains(err.Error(), `want a string column "path"`) || !strings.Contains(err.Error(), "name, vec.list.element") {
		t.Errorf("got %v", err)
	}
}

// featurize's file rewritten by DuckDB reads back to the same rows.
func TestDuckDBRewrittenFile(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not on PATH")
	}
	if _, err := os.Stat(filepath.Join("testdata", "node_modules", "@duckdb", "node-api")); err != nil {
		t.Skip("@duckdb/node-api not installed; run: npm ci --prefix internal/featstore/testdata")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.parquet"), filepath.Join(dir, "out.parquet")
	rows := makeRows(3000, 64, 5)
	writeFile(t, in, testMeta(64), rows)
	cmd := exec.Command(node, filepath.Join("testdata", "rewrite_duckdb.mjs"), in, out)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("rewrite_duckdb.mjs: %v", err)
	}
	meta, got := readByPath(t, out)
	if meta.Dim != 64 || meta.BackboneSHA256 != "" {
		t.Errorf("meta %+v, want dim 64 and no backbone", meta)
	}
	if len(got) != len(rows) {
		t.Fatalf("%d rows, want %d", len(got), len(rows))
	}
	for _, r := range rows {
		if !slicesEqual(got[r.Path], r.Features) {
			t.Fatalf("%s: features differ", r.Path)
		}
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Every one-byte corruption of a small feature file is read or refused with
// an error, never a panic: parquet-go indexes out of range on some (a page
// header byte set to 0x80 did), and Open and ReadBatch turn that into an
// error naming the file.
func TestCorruptBytesAreErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "seed.parquet")
	writeFile(t, p, Meta{Backbone: "b", BackboneSHA256: "00", Dim: 3, Preprocess: "pad"}, []Row{
		{Path: "a.png", SHA256: "aa", Width: 2, Height: 2, Features: []float32{1, 2, 3}},
		{Path: "b.png", SHA256: "bb", Width: 2, Height: 2, Features: []float32{4, 5, 6}}})
	seed, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(dir, "bad.parquet")
	refused, recovered := 0, 0
	for i := range seed {
		data := append([]byte(nil), seed...)
		data[i] = 0x80
		os.WriteFile(q, data, 0o644)
		r, err := Open(q)
		if err == nil {
			rows := make([]Row, 16)
			for err == nil {
				var n int
				n, err = r.ReadBatch(rows)
				for _, row := range rows[:n] {
					if len(row.Features) != r.Meta().Dim {
						t.Fatalf("byte %d: a row of %d features in a file of dim %d", i, len(row.Features), r.Meta().Dim)
					}
				}
			}
			r.Close()
		}
		if err != nil && !errors.Is(err, io.EOF) {
			refused++
			if strings.Contains(err.Error(), "corrupt Parquet file") {
				recovered++
			}
		}
	}
	t.Logf("%d of %d corruptions refused, %d of them by a recovered panic", refused, len(seed), recovered)
	if refused == 0 {
		t.Fatal("no corruption was refused: the test corrupts nothing")
	}
}

// A file from another tool without sha256, width and height exports them
// as empty cells.
func TestExportCSVForeignMeta(t *testing.T) {
	type foreign struct {
		Path     string    `parquet:"path"`
		Features []float32 `parquet:"features,list"`
	}
	p := filepath.Join(t.TempDir(), "foreign.parquet")
	if err := parquet.WriteFile(p, []foreign{{"a.jpg", []float32{1, 2}}}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ExportCSV(p, &buf, true); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "path,sha256,width,height,f0,f1\na.jpg,,,,1,2\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
