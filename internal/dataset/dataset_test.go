package dataset

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/winnowml/winnow/internal/featstore"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeParquet(t *testing.T, rows []featstore.Row) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.parquet")
	w, err := featstore.Create(p, featstore.Meta{Backbone: "b", BackboneSHA256: "s", Dim: len(rows[0].Features)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rows...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

const featCSV = "path,Features.0,Features.1,label\na.jpg,1,2,knot\nb.jpg,3,4,clear\nc.jpg,5,6,\nd.jpg,7,8,other\n"

func TestCSVAndParquetGiveTheSameSet(t *testing.T) {
	csvPath := write(t, "f.csv", featCSV)
	pq := writeParquet(t, []featstore.Row{
		{Path: "d.jpg", SHA256: "4", Features: []float32{7, 8}},
		{Path: "a.jpg", SHA256: "1", Features: []float32{1, 2}},
		{Path: "b.jpg", SHA256: "2", Features: []float32{3, 4}},
		{Path: "c.jpg", SHA256: "3", Features: []float32{5, 6}},
	})
	opt := Options{Classes: []string{"knot", "clear"}}
	a, err := Load(csvPath, csvPath, opt) // features and labels in one CSV
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(pq, csvPath, opt)
	if err != nil {
		t.Fatal(err)
	}
	if a.X.RawMatrix().Cols != 2 || !reflect.DeepEqual(a.Paths, []string{"a.jpg", "b.jpg"}) || !reflect.DeepEqual(a.Y, []int{0, 1}) {
		t.Fatalf("csv set: %v %v %v", a.Paths, a.Y, a.X.RawMatrix().Data)
	}
	if !reflect.DeepEqual(a.X.RawMatrix().Data, []float64{1, 2, 3, 4}) {
		t.Fatalf("label column leaked into features: %v", a.X.RawMatrix().Data)
	}
	if !reflect.DeepEqual(a.Y, b.Y) || !reflect.DeepEqual(a.X.RawMatrix().Data, b.X.RawMatrix().Data) {
		t.Fatalf("CSV and Parquet differ")
	}
	if b.Meta.Backbone != "b" {
		t.Errorf("parquet meta lost: %+v", b.Meta)
	}
	if a.Notes.Unlabelled != 1 || a.Notes.OutsideClasses["other"] != 1 {
		t.Errorf("notes %+v", a.Notes)
	}
	if s := a.Notes.Summary(); !strings.Contains(s, "1 rows without a label") || !strings.Contains(s, "other: 1") {
		t.Errorf("summary %q", s)
	}
}

func TestClassesDefaultToSortedLabels(t *testing.T) {
	p := write(t, "f.csv", featCSV)
	s, err := Load(p, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Classes, []string{"clear", "knot", "other"}) {
		t.Fatalf("classes %v", s.Classes)
	}
}

func TestBadInputGetsClearErrors(t *testing.T) {
	feats := write(t, "f.csv", "path,x,y\na.jpg,1,2\nb.jpg,NaN,1\nc.jpg,1,+Inf\n")
	short := write(t, "s.csv", "path,x,y\na.jpg,1,2\nc.jpg,1\n")
	cases := []struct{ name, feats, labels, want string }{
		{"missing path", feats, "path,label\na.jpg,k\nzzz.jpg,k\n", "zzz.jpg"},
		{"conflict", feats, "path,label\na.jpg,k\na.jpg,j\n", "conflicting"},
		{"nan", feats, "path,label\na.jpg,k\nb.jpg,j\nc.jpg,j\n", "2 labelled rows have NaN or infinite"},
		{"dimension", short, "path,label\nc.jpg,k\n", "dimension"},
		{"no label column", feats, "path,class\na.jpg,k\n", `"label"`},
	}
	for _, c := range cases {
		_, err := Load(c.feats, write(t, "l.csv", c.labels), Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error mentioning %s", c.name, err, c.want)
		}
	}
	// A column of words on the first row is named, with the flag that skips it.
	notNumber := write(t, "g.csv", "path,x\na.jpg,abc\n")
	if _, err := Load(notNumber, write(t, "l.csv", "path,label\na.jpg,k\n"), Options{}); err == nil || !strings.Contains(err.Error(), `column "x" is not numeric`) || !strings.Contains(err.Error(), "--ignore-columns x") {
		t.Errorf("non-numeric feature column: %v", err)
	}
	// A word further down is reported with its line and column name.
	later := write(t, "h.csv", "path,x\na.jpg,1\nb.jpg,abc\n")
	if _, err := Load(later, write(t, "l.csv", "path,label\na.jpg,k\n"), Options{}); err == nil || !strings.Contains(err.Error(), `h.csv:3: column "x" is not a number`) {
		t.Errorf("non-numeric value: %v", err)
	}
	huge := write(t, "i.csv", "path,x\na.jpg,1e39\n")
	if _, err := Load(huge, write(t, "l.csv", "path,label\na.jpg,k\n"), Options{}); err == nil || !strings.Contains(err.Error(), "out of float32 range") {
		t.Errorf("1e39: %v", err)
	}
}

func TestCheckTrainable(t *testing.T) {
	p := write(t, "f.csv", featCSV)
	s, _ := Load(p, p, Options{Classes: []string{"knot", "clear", "missing"}})
	if err := s.CheckTrainable(); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("empty class: %v", err)
	}
	s, _ = Load(p, p, Options{Classes: []string{"knot"}})
	if err := s.CheckTrainable(); err == nil || !strings.Contains(err.Error(), "two classes") {
		t.Errorf("one class: %v", err)
	}
}
