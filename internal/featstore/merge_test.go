package featstore

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// shift returns rows with the same paths and different content, as if the
// images had changed on disk.
func shift(rows []Row) []Row {
	out := make([]Row, len(rows))
	for i, r := range rows {
		f := slices.Clone(r.Features)
		for j := range f {
			f[j] += 1000
		}
		out[i] = Row{Path: r.Path, SHA256: "changed-" + r.SHA256, Width: r.Width + 1, Height: r.Height, Features: f}
	}
	return out
}

func TestMerge(t *testing.T) {
	const dim = 24
	dir := t.TempDir()
	m := testMeta(dim)
	all := makeRows(150, dim, 5)
	a, b := all[:100], shift(all[50:150]) // paths 50..99 in both
	pa, pb := filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet")
	writeFile(t, pa, m, a)
	writeFile(t, pb, m, b)

	dst := filepath.Join(dir, "dst.parquet")
	if err := Merge(dst, m, pa, pb); err != nil {
		t.Fatal(err)
	}
	got, gotMeta := readAll(t, dst)
	want := append(slices.Clone(a), b[50:]...) // first occurrence wins
	rowsEqual(t, got, want)
	if gotMeta != m {
		t.Fatalf("meta %+v, want %+v", gotMeta, m)
	}

	// Order decides precedence.
	rev := filepath.Join(dir, "rev.parquet")
	if err := Merge(rev, m, pb, pa); err != nil {
		t.Fatal(err)
	}
	got, _ = readAll(t, rev)
	rowsEqual(t, got, append(slices.Clone(b), a[:50]...))

	// Idempotent: merging the result with its own sources again changes
	// nothing, and dst may be a source of itself.
	if err := Merge(dst, m, dst, pa, pb); err != nil {
		t.Fatal(err)
	}
	got, _ = readAll(t, dst)
	rowsEqual(t, got, want)

	// Duplicates inside one source are dropped too.
	dup := filepath.Join(dir, "dup.parquet")
	writeFile(t, dup, m, append(slices.Clone(a[:10]), shift(a[:10])...))
	if err := Merge(dup, m, dup); err != nil {
		t.Fatal(err)
	}
	got, _ = readAll(t, dup)
	rowsEqual(t, got, a[:10])

	// MergeFunc drops rejected paths.
	odd := filepath.Join(dir, "odd.parquet")
	keep := func(p string) bool { return strings.HasSuffix(p, "1.jpg") }
	if err := MergeFunc(odd, m, keep, pa); err != nil {
		t.Fatal(err)
	}
	got, _ = readAll(t, odd)
	var wantOdd []Row
	for _, r := range a {
		if keep(r.Path) {
			wantOdd = append(wantOdd, r)
		}
	}
	if len(wantOdd) == 0 {
		t.Fatal("test filter keeps nothing")
	}
	rowsEqual(t, got, wantOdd)
}

func TestMergeRejectsIncompatible(t *testing.T) {
	dir := t.TempDir()
	m := testMeta(8)
	pa := filepath.Join(dir, "a.parquet")
	writeFile(t, pa, m, makeRows(10, 8, 1))

	otherBackbone := m
	otherBackbone.Backbone = "efficientnet_b0"
	otherSHA := m
	otherSHA.BackboneSHA256 = strings.Repeat("cd", 32)
	otherPre := m
	otherPre.Preprocess = "resize=224"
	otherVersion := m
	otherVersion.Version = "v9"
	otherDim := testMeta(16)

	for name, om := range map[string]Meta{"backbone": otherBackbone, "sha": otherSHA, "preprocess": otherPre, "dim": otherDim} {
		pb := filepath.Join(dir, name+".parquet")
		writeFile(t, pb, om, makeRows(10, om.Dim, 2))
		dst := filepath.Join(dir, "dst-"+name+".parquet")
		err := Merge(dst, m, pa, pb)
		if !errors.Is(err, ErrIncompatible) {
			t.Errorf("%s: Merge error = %v, want ErrIncompatible", name, err)
		}
		if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: failed Merge left %s behind (%v)", name, dst, err)
		}
		if _, _, err := LoadIndex(pa, pb); !errors.Is(err, ErrIncompatible) {
			t.Errorf("%s: LoadIndex error = %v, want ErrIncompatible", name, err)
		}
	}
	// A different winnow version alone is fine.
	pv := filepath.Join(dir, "version.parquet")
	writeFile(t, pv, otherVersion, makeRows(10, 8, 3))
	if err := Merge(filepath.Join(dir, "v.parquet"), m, pa, pv); err != nil {
		t.Errorf("Merge across versions: %v", err)
	}
	// A failed Merge leaves an existing destination untouched.
	pb := filepath.Join(dir, "backbone.parquet")
	if err := Merge(pa, m, pa, pb); err == nil {
		t.Fatal("Merge into a with incompatible b succeeded")
	}
	got, _ := readAll(t, pa)
	rowsEqual(t, got, makeRows(10, 8, 1))
	if names := dirNames(t, dir); slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, ".") }) {
		t.Fatalf("temp files left behind: %v", names)
	}
}

func TestLoadIndex(t *testing.T) {
	dir := t.TempDir()
	m := testMeta(8)
	all := makeRows(30, 8, 9)
	a, b := all[:20], shift(all[10:30])
	pa, pb := filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet")
	writeFile(t, pa, m, a)
	writeFile(t, pb, m, b)

	x, gotMeta, err := LoadIndex(filepath.Join(dir, "missing.parquet"), pb, pa)
	if err != nil {
		t.Fatal(err)
	}
	if gotMeta != m {
		t.Fatalf("meta %+v, want %+v", gotMeta, m)
	}
	if x.Len() != 30 {
		t.Fatalf("index has %d paths, want 30", x.Len())
	}
	for _, r := range b { // b came first, so its SHAs win
		if !x.Has(r.Path, r.SHA256) {
			t.Errorf("index lacks %s %s", r.Path, r.SHA256)
		}
	}
	for _, r := range a[:10] {
		if sha, ok := x.Lookup(r.Path); !ok || sha != r.SHA256 {
			t.Errorf("Lookup(%s) = %q %v, want %q", r.Path, sha, ok, r.SHA256)
		}
	}
	if x.Has(a[15].Path, a[15].SHA256) {
		t.Error("stale SHA of a path overridden by an earlier file reported as done")
	}
	if _, ok := x.Lookup("nope.jpg"); ok {
		t.Error("Lookup of an unknown path succeeded")
	}

	x, gotMeta, err = LoadIndex(filepath.Join(dir, "missing.parquet"))
	if err != nil || x.Len() != 0 || gotMeta != (Meta{}) {
		t.Fatalf("LoadIndex(missing) = %d paths, %+v, %v", x.Len(), gotMeta, err)
	}
	if x.Has("a", "") {
		t.Fatal("empty index Has a path")
	}
}

func TestResumeParts(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "features.parquet")
	m := testMeta(8)
	all := makeRows(40, 8, 4)

	// First run: two chunks, then a crash while writing the third.
	for _, chunk := range [][]Row{all[0:10], all[10:20]} {
		w, err := CreatePart(out, m)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(chunk...); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	crashed, err := CreatePart(out, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := crashed.Write(all[20:25]...); err != nil {
		t.Fatal(err)
	}
	// (never closed)

	parts, err := Parts(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || filepath.Base(parts[0]) != "chunk-000001.parquet" || filepath.Base(parts[1]) != "chunk-000002.parquet" {
		t.Fatalf("Parts = %v", parts)
	}
	x, xm, err := ResumeIndex(out)
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != 20 || xm != m {
		t.Fatalf("ResumeIndex: %d paths, meta %+v", x.Len(), xm)
	}
	if x.Has(all[20].Path, all[20].SHA256) {
		t.Fatal("row of the unclosed chunk counted as done")
	}

	// Second run: an image from chunk 1 changed, plus new images.
	changed := shift(all[3:4])
	w, err := CreatePart(out, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(append(changed, all[20:30]...)...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	x, _, err = ResumeIndex(out)
	if err != nil {
		t.Fatal(err)
	}
	if !x.Has(changed[0].Path, changed[0].SHA256) {
		t.Fatal("ResumeIndex does not prefer the newest chunk")
	}

	if err := Consolidate(out, m, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(PartsDir(out)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("parts directory still there: %v", err)
	}
	got, _ := readAll(t, out)
	want := append(append(slices.Clone(changed), all[20:30]...), all[10:20]...)
	want = append(want, all[0:3]...)
	want = append(want, all[4:10]...)
	rowsEqual(t, got, want)

	// Third run on the consolidated file: one more chunk, and an image
	// that was deleted is dropped by keep.
	w, err = CreatePart(out, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(all[30:40]...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	gone := all[12].Path
	if err := Consolidate(out, m, func(p string) bool { return p != gone }); err != nil {
		t.Fatal(err)
	}
	got, _ = readAll(t, out)
	want = append(slices.Clone(all[30:40]), slices.DeleteFunc(want, func(r Row) bool { return r.Path == gone })...)
	rowsEqual(t, got, want)

	// Nothing to do: no chunks, no filter.
	before, _ := os.Stat(out)
	if err := Consolidate(out, m, nil); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(out)
	if !os.SameFile(before, after) {
		t.Fatal("Consolidate with nothing to do rewrote the file")
	}
}

// A crash after Consolidate renamed the new file but before it removed the
// chunks must not duplicate rows on the next Consolidate.
func TestConsolidateAfterCrash(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "f.parquet")
	m := testMeta(8)
	rows := makeRows(20, 8, 8)
	w, err := CreatePart(out, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rows...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	parts, _ := Parts(out)
	if err := Merge(out, m, parts...); err != nil { // the merge step alone
		t.Fatal(err)
	}
	if err := Consolidate(out, m, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := readAll(t, out)
	rowsEqual(t, got, rows)
}

func TestExportCSV(t *testing.T) {
	const n, dim = 300, 16
	path := filepath.Join(t.TempDir(), "f.parquet")
	rows := makeRows(n, dim, 2)
	rows[0].Path = "with,comma \"and quotes\"\nand newline.jpg"
	rows[1].Features[0] = 1e-45 // denormal
	rows[1].Features[1] = 3.4028235e38
	rows[1].Features[2] = 0.1
	writeFile(t, path, testMeta(dim), rows)

	var buf bytes.Buffer
	if err := ExportCSV(path, &buf, false); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n+1 {
		t.Fatalf("%d CSV records, want header + %d", len(recs), n)
	}
	if len(recs[0]) != dim+1 || recs[0][0] != "path" || recs[0][1] != "f0" || recs[0][dim] != "f"+strconv.Itoa(dim-1) {
		t.Fatalf("header %v", recs[0])
	}
	for i, rec := range recs[1:] {
		if len(rec) != dim+1 || rec[0] != rows[i].Path {
			t.Fatalf("record %d: %d fields, path %q", i, len(rec), rec[0])
		}
		for j, s := range rec[1:] {
			v, err := strconv.ParseFloat(s, 32)
			if err != nil || float32(v) != rows[i].Features[j] {
				t.Fatalf("record %d f%d = %q (%v), want %v", i, j, s, err, rows[i].Features[j])
			}
		}
	}
	if recs[2][3] != "0.1" {
		t.Fatalf("0.1 exported as %q, want the shortest form", recs[2][3])
	}

	if err := ExportCSV(filepath.Join(t.TempDir(), "missing.parquet"), io.Discard, false); err == nil {
		t.Fatal("ExportCSV of a missing file succeeded")
	}

	// withMeta: the same lines with sha256,width,height after path.
	buf.Reset()
	if err := ExportCSV(path, &buf, true); err != nil {
		t.Fatal(err)
	}
	meta, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(meta) != n+1 || strings.Join(meta[0][:5], ",") != "path,sha256,width,height,f0" || len(meta[0]) != dim+4 {
		t.Fatalf("with meta: %d records, header %v", len(meta), meta[0])
	}
	for i, rec := range meta[1:] {
		r := rows[i]
		if rec[0] != r.Path || rec[1] != r.SHA256 || rec[2] != strconv.Itoa(int(r.Width)) || rec[3] != strconv.Itoa(int(r.Height)) ||
			strings.Join(rec[4:], ",") != strings.Join(recs[i+1][1:], ",") {
			t.Fatalf("with meta, record %d: %v, want %s %s %dx%d and the features of %v", i, rec[:4], r.Path, r.SHA256, r.Width, r.Height, recs[i+1][:2])
		}
	}
}
