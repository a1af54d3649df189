package featstore

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

func testMeta(dim int) Meta {
	return Meta{
		Backbone:       "resnet18",
		BackboneSHA256: strings.Repeat("ab", 32),
		Preprocess:     "resize=256,crop=224,mean=0.485/0.456/0.406,std=0.229/0.224/0.225",
		Version:        "v0.0.0-test",
		Dim:            dim,
	}
}

// writeFile writes rows to path in uneven batches, so batch boundaries and
// row-group boundaries don't line up.
func writeFile(t *testing.T, path string, m Meta, rows []Row) {
	t.Helper()
	w, err := Create(path, m)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for i := 0; i < len(rows); i += 77 {
		if err := w.Write(rows[i:min(i+77, len(rows))]...); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.NumRows(); got != int64(len(rows)) {
		t.Fatalf("NumRows = %d, want %d", got, len(rows))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// readAll reads a file with Next.
func readAll(t *testing.T, path string) ([]Row, Meta) {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var rows []Row
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	if int64(len(rows)) != r.NumRows() {
		t.Fatalf("read %d rows, NumRows says %d", len(rows), r.NumRows())
	}
	return rows, r.Meta()
}

func rowsEqual(t *testing.T, got, want []Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Path != w.Path || g.SHA256 != w.SHA256 || g.Width != w.Width || g.Height != w.Height {
			t.Fatalf("row %d: got %s %s %dx%d, want %s %s %dx%d", i, g.Path, g.SHA256, g.Width, g.Height, w.Path, w.SHA256, w.Width, w.Height)
		}
		if !slices.Equal(g.Features, w.Features) {
			t.Fatalf("row %d (%s): features differ", i, w.Path)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	// dim 1024 gives 2048-row groups, so 5000 rows span three row groups.
	const n, dim = 5000, 1024
	m := testMeta(dim)
	want := makeRows(n, dim, 7)
	want[3].Path = `odd, "quoted" path/ünïcode.jpg`
	want[4].Features[0] = float32(math.SmallestNonzeroFloat32)
	want[4].Features[1] = -math.MaxFloat32
	want[4].Features[2] = float32(math.Copysign(0, -1))
	path := filepath.Join(t.TempDir(), "f.parquet")
	writeFile(t, path, m, want)

	got, gotMeta := readAll(t, path)
	if gotMeta != m {
		t.Fatalf("meta = %+v, want %+v", gotMeta, m)
	}
	rowsEqual(t, got, want)
	if math.Float32bits(got[4].Features[2]) != math.Float32bits(want[4].Features[2]) {
		t.Fatal("-0 did not survive")
	}

	// ReadBatch with a reused dst of an odd size must give the same rows,
	// and must reuse the caller's feature slices.
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dst := make([]Row, 333)
	var batched []Row
	var firstBuf *float32
	for {
		k, err := r.ReadBatch(dst)
		if errors.Is(err, io.EOF) {
			if k != 0 {
				t.Fatalf("ReadBatch returned %d rows with io.EOF", k)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if firstBuf == nil {
			firstBuf = &dst[0].Features[0]
		} else if &dst[0].Features[0] != firstBuf {
			t.Fatal("ReadBatch did not reuse dst feature slices")
		}
		for _, row := range dst[:k] {
			row.Features = slices.Clone(row.Features)
			batched = append(batched, row)
		}
	}
	rowsEqual(t, batched, want)

	// Another ReadBatch and Next after EOF keep saying EOF.
	if _, err := r.ReadBatch(dst); !errors.Is(err, io.EOF) {
		t.Fatalf("ReadBatch after EOF: %v", err)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("Next after EOF: %v", err)
	}

	// Streaming: reading the whole file into a reused dst allocates a small
	// fraction of the feature bytes (pages are decoded one at a time), so
	// memory does not grow with the file.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for {
		k, err := r2.ReadBatch(dst)
		total += k
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	r2.Close()
	runtime.ReadMemStats(&after)
	featBytes := uint64(n * dim * 4)
	if alloc := after.TotalAlloc - before.TotalAlloc; total != n || alloc > featBytes/10 {
		t.Fatalf("read %d rows allocating %d bytes for %d bytes of features", total, alloc, featBytes)
	}
}

func TestEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.parquet")
	writeFile(t, path, testMeta(8), nil)
	rows, m := readAll(t, path)
	if len(rows) != 0 || m.Dim != 8 {
		t.Fatalf("got %d rows, dim %d", len(rows), m.Dim)
	}
}

// TestSchema inspects the raw Parquet footer, not our own reader, so it
// pins down what DuckDB and pyarrow see.
func TestSchema(t *testing.T) {
	const n, dim = 9000, 512
	path := filepath.Join(t.TempDir(), "f.parquet")
	m := testMeta(dim)
	writeFile(t, path, m, makeRows(n, dim, 1))

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	md := pf.Metadata()

	req, rep := format.Required, format.Repeated
	type elem struct {
		name     string
		physical string // "" for groups
		rep      format.FieldRepetitionType
		children int32
		logical  string
	}
	want := []elem{
		{"path", "BYTE_ARRAY", req, 0, "STRING"},
		{"sha256", "BYTE_ARRAY", req, 0, "STRING"},
		{"width", "INT32", req, 0, "INT(32,true)"},
		{"height", "INT32", req, 0, "INT(32,true)"},
		{"features", "", req, 1, "LIST"},
		{"list", "", rep, 1, ""},
		{"element", "FLOAT", req, 0, ""},
	}
	if len(md.Schema) != 1+len(want) {
		t.Fatalf("schema has %d elements, want %d: %+v", len(md.Schema), 1+len(want), md.Schema)
	}
	if nc, _ := md.Schema[0].NumChildren.Get(); nc != 5 {
		t.Fatalf("root has %d children, want 5", nc)
	}
	for i, w := range want {
		e := md.Schema[1+i]
		var physical string
		if typ, ok := e.Type.Get(); ok {
			physical = typ.String()
		}
		logical := e.LogicalType.String()
		r, _ := e.RepetitionType.Get()
		nc, _ := e.NumChildren.Get()
		if e.Name != w.name || physical != w.physical || r != w.rep || nc != w.children || logical != w.logical {
			t.Errorf("schema element %d = {%s %s %v %d %q}, want %+v", i+1, e.Name, physical, r, nc, logical, w)
		}
		// Older readers go by ConvertedType rather than LogicalType.
		if ct, _ := e.ConvertedType.Get(); w.logical == "LIST" && ct != deprecated.List {
			t.Errorf("features has converted type %v, want LIST", ct)
		}
	}

	if len(md.RowGroups) < 2 {
		t.Errorf("%d rows in %d row group(s), want groups bounded to %d rows", n, len(md.RowGroups), rowGroupRows(dim))
	}
	for _, rg := range md.RowGroups {
		if rg.NumRows > rowGroupRows(dim) {
			t.Errorf("row group of %d rows, limit %d", rg.NumRows, rowGroupRows(dim))
		}
		for _, c := range rg.Columns {
			if c.MetaData.Codec != format.Snappy {
				t.Errorf("column %v codec %v, want SNAPPY", c.MetaData.PathInSchema, c.MetaData.Codec)
			}
		}
	}

	kv := map[string]string{}
	for _, e := range md.KeyValueMetadata {
		kv[e.Key] = e.Value
	}
	for k, v := range map[string]string{
		KeyBackbone: m.Backbone, KeyBackboneSHA256: m.BackboneSHA256, KeyDim: "512",
		KeyPreprocess: m.Preprocess, KeyVersion: m.Version,
	} {
		if kv[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, kv[k], v)
		}
	}
}

func TestWriteRejectsBadRows(t *testing.T) {
	const dim = 4
	good := Row{Path: "a.jpg", SHA256: "00", Width: 1, Height: 1, Features: []float32{1, 2, 3, 4}}
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	cases := []struct {
		name string
		row  Row
		msg  string
	}{
		{"short", Row{Path: "b.jpg", Features: []float32{1, 2, 3}}, "3 features, want dim 4"},
		{"long", Row{Path: "b.jpg", Features: make([]float32, 5)}, "5 features, want dim 4"},
		{"nan", Row{Path: "b.jpg", Features: []float32{0, nan, 0, 0}}, "feature 1 is NaN"},
		{"+inf", Row{Path: "b.jpg", Features: []float32{0, 0, inf, 0}}, "feature 2 is +Inf"},
		{"-inf", Row{Path: "b.jpg", Features: []float32{0, 0, 0, -inf}}, "feature 3 is -Inf"},
		{"no path", Row{Features: make([]float32, 4)}, "empty path"},
		{"negative size", Row{Path: "b.jpg", Width: -1, Features: make([]float32, 4)}, "negative size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.parquet")
			w, err := Create(path, testMeta(dim))
			if err != nil {
				t.Fatal(err)
			}
			err = w.Write(good, c.row)
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("Write error = %v, want one containing %q", err, c.msg)
			}
			// The rejected call wrote nothing, and the writer is still usable.
			if err := w.Write(good); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			rows, _ := readAll(t, path)
			rowsEqual(t, rows, []Row{good})
		})
	}
	if _, err := Create(filepath.Join(t.TempDir(), "f.parquet"), testMeta(0)); err == nil {
		t.Fatal("Create with dim 0 succeeded")
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestAtomicReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.parquet")
	m := testMeta(16)
	old := makeRows(50, 16, 1)
	writeFile(t, path, m, old)

	// A writer that is never closed (the process died) leaves the previous
	// file intact and readable, and its rows nowhere.
	w, err := Create(path, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(makeRows(5000, 16, 2)...); err != nil {
		t.Fatal(err)
	}
	got, _ := readAll(t, path)
	rowsEqual(t, got, old)
	if names := dirNames(t, dir); len(names) != 2 {
		t.Fatalf("directory holds %v, want the file and one temp file", names)
	}

	// Abort removes the temp file and still leaves the old file.
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"f.parquet"}) {
		t.Fatalf("after Abort directory holds %v", names)
	}
	got, _ = readAll(t, path)
	rowsEqual(t, got, old)
	if err := w.Write(old[0]); err == nil {
		t.Fatal("Write after Abort succeeded")
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("second Abort: %v", err)
	}

	// Close replaces the file, leaves nothing else, and a later Abort (as
	// in `defer w.Abort()`) does not touch the new file.
	repl := makeRows(10, 16, 3)
	w, err = Create(path, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(repl...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil {
		t.Fatal("second Close succeeded")
	}
	got, _ = readAll(t, path)
	rowsEqual(t, got, repl)
	if names := dirNames(t, dir); !slices.Equal(names, []string{"f.parquet"}) {
		t.Fatalf("after Close directory holds %v", names)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("stat: %v, mode %v, want 0644", err, st.Mode())
	}

	// An unclosed writer to a new path creates nothing at that path.
	fresh := filepath.Join(dir, "new.parquet")
	w, err = Create(fresh, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("unclosed writer: stat %s: %v", fresh, err)
	}
	w.Abort()
}

func TestOpenRejectsForeignFiles(t *testing.T) {
	dir := t.TempDir()

	// A Parquet file without the columns.
	other := filepath.Join(dir, "other.parquet")
	type foreign struct {
		Name     string    `parquet:"name"`
		Features []float64 `parquet:"features,list"`
	}
	if err := parquet.WriteFile(other, []foreign{{Name: "x", Features: []float64{1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(other); err == nil || !strings.Contains(err.Error(), "not a feature file") {
		t.Fatalf("Open(other) = %v", err)
	}

	// Right schema, no metadata and no rows: nothing tells the dimension.
	bare := filepath.Join(dir, "bare.parquet")
	if err := parquet.WriteFile(bare, []record{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bare); err == nil || !strings.Contains(err.Error(), "dimension is unknown") {
		t.Fatalf("Open(bare) = %v", err)
	}

	// Rows whose list length differs from winnow.dim.
	opts := []parquet.WriterOption{}
	for _, kv := range testMeta(2).keyValues() {
		opts = append(opts, parquet.KeyValueMetadata(kv[0], kv[1]))
	}
	for _, c := range []struct {
		name string
		odd  []float32
		msg  string
	}{
		{"long", []float32{1, 2, 3}, "longer than dim"},
		{"short", []float32{1}, "shorter than dim"},
		{"empty", []float32{}, "null or empty"},
	} {
		p := filepath.Join(dir, c.name+".parquet")
		if err := parquet.WriteFile(p, []record{
			{Path: "a", Features: []float32{1, 2}},
			{Path: "b", Features: c.odd},
			{Path: "c", Features: []float32{1, 2}},
		}, opts...); err != nil {
			t.Fatal(err)
		}
		r, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.ReadBatch(make([]Row, 10))
		r.Close()
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s list with dim 2: error %v, want %q", c.name, err, c.msg)
		}
	}

	// A truncated file (e.g. copied while being written by another tool).
	good := filepath.Join(dir, "good.parquet")
	writeFile(t, good, testMeta(8), makeRows(100, 8, 1))
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	trunc := filepath.Join(dir, "trunc.parquet")
	if err := os.WriteFile(trunc, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(trunc); err == nil {
		t.Fatal("Open of a truncated file succeeded")
	}
}

// featurize reuses its output buffers between batches, so Write must copy.
func TestWriteCopiesFeatures(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.parquet")
	w, err := Create(path, testMeta(3))
	if err != nil {
		t.Fatal(err)
	}
	buf := []float32{1, 2, 3}
	if err := w.Write(Row{Path: "a", Features: buf}); err != nil {
		t.Fatal(err)
	}
	buf[0], buf[1], buf[2] = 7, 8, 9
	if err := w.Write(Row{Path: "b", Features: buf}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rows, _ := readAll(t, path)
	rowsEqual(t, rows, []Row{{Path: "a", Features: []float32{1, 2, 3}}, {Path: "b", Features: []float32{7, 8, 9}}})
}
