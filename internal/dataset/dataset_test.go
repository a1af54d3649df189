package dataset

import (
	"context"
	"errors"
	"fmt"
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
	if s := a.Notes.Summary(); !strings.Contains(s, "1 row \"none of these\"") || !strings.Contains(s, "other: 1") {
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

// train's float32 storage must hold exactly the rows the float64 Set has,
// whether they came through the batched Parquet reader (600 rows: several
// batches of 256, the last one partial) or a CSV's Next, including the
// duplicate, unlabelled and out-of-class rows the notes count.
func TestFloat32SetHoldsTheSameRows(t *testing.T) {
	const n, dim = 600, 3
	rows := make([]featstore.Row, 0, n+1)
	var csvText, labels strings.Builder
	csvText.WriteString("path,a,b,c\n")
	labels.WriteString("path,label\n")
	want := map[string][]float32{}
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("img%03d.png", i)
		v := []float32{float32(i) + 0.1, -float32(i) / 7, float32(i % 13)}
		rows = append(rows, featstore.Row{Path: p, SHA256: "x", Features: v})
		fmt.Fprintf(&csvText, "%s,%v,%v,%v\n", p, v[0], v[1], v[2])
		switch {
		case i%50 == 7: // looked at, no label
			fmt.Fprintf(&labels, "%s,\n", p)
		case i%3 == 0:
			fmt.Fprintf(&labels, "%s,even\n", p)
		case i%3 == 1:
			fmt.Fprintf(&labels, "%s,odd\n", p)
		default:
			fmt.Fprintf(&labels, "%s,other\n", p)
		}
		want[p] = v
	}
	// A repeated feature row with other values: the first one must win.
	rows = append(rows, featstore.Row{Path: "img003.png", SHA256: "x", Features: []float32{9, 9, 9}})
	fmt.Fprintf(&csvText, "img003.png,9,9,9\n")
	pq := writeParquet(t, rows)
	csvPath := write(t, "f.csv", csvText.String())
	lab := write(t, "l.csv", labels.String())
	opt := Options{Classes: []string{"odd", "even"}}
	for name, feats := range map[string]string{"parquet": pq, "csv": csvPath} {
		s64, err := Load(feats, lab, opt)
		if err != nil {
			t.Fatal(err)
		}
		opt32 := opt
		opt32.Float32 = true
		s32, err := Load(feats, lab, opt32)
		if err != nil {
			t.Fatal(err)
		}
		if s32.X != nil || s32.X32 == nil {
			t.Fatalf("%s: Float32 set has X %v, X32 %v", name, s32.X != nil, s32.X32 != nil)
		}
		if !reflect.DeepEqual(s32.Paths, s64.Paths) || !reflect.DeepEqual(s32.Y, s64.Y) || !reflect.DeepEqual(s32.Notes, s64.Notes) {
			t.Fatalf("%s: float32 and float64 sets differ in paths, labels or notes", name)
		}
		if r, d := s32.X32.Dims(); r != len(s64.Paths) || d != dim || r < 300 {
			t.Fatalf("%s: X32 is %d×%d for %d paths", name, r, d, len(s64.Paths))
		}
		if s64.Notes.RepeatedFeature != 1 || s64.Notes.Unlabelled != 12 || s64.Notes.OutsideClasses["other"] == 0 {
			t.Errorf("%s: notes %+v", name, s64.Notes)
		}
		for i, p := range s32.Paths {
			for j := 0; j < dim; j++ {
				if got := s32.X32.Row(i)[j]; got != want[p][j] || float64(got) != s64.X.At(i, j) {
					t.Fatalf("%s: %s feature %d: float32 %v, float64 %v, written %v", name, p, j, got, s64.X.At(i, j), want[p][j])
				}
			}
		}
	}
}

func TestLoadStopsWhenCancelled(t *testing.T) {
	p := write(t, "f.csv", featCSV)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := LoadContext(ctx, p, p, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("load with a done context: %v", err)
	}
	if _, err := LoadContext(context.Background(), p, p, Options{}); err != nil {
		t.Errorf("load with a live context: %v", err)
	}
}
