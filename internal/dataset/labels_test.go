package dataset

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/winnowml/winnow/internal/featstore"
)

func TestSourcesMerge(t *testing.T) {
	a := write(t, "a.csv", "path,label\nx.png,boot\ny.png,sandal\n")
	b := write(t, "b.csv", "path,label\ny.png,sandal\nz.png,sneaker\n")
	l, err := ReadSources([]string{a, b}, SourceOptions{}, Merge{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.ByPath) != 3 || l.Repeats != 1 || l.ByPath["z.png"] != "sneaker" {
		t.Fatalf("merged %v, repeats %d; want 3 paths, 1 repeat", l.ByPath, l.Repeats)
	}
	if got := strings.Join(l.Order, ","); got != "x.png,y.png,z.png" {
		t.Fatalf("order %s", got)
	}
}

func TestSourcesConflict(t *testing.T) {
	a := write(t, "a.csv", "path,label\nx.png,boot\ny.png,sandal\n")
	b := write(t, "b.csv", "path,label\ny.png,boot\nx.png,boot\n")
	_, err := ReadSources([]string{a, b}, SourceOptions{}, Merge{})
	if err == nil || !strings.Contains(err.Error(), "y.png") || strings.Contains(err.Error(), "x.png") ||
		!strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), b) || !strings.Contains(err.Error(), "--on-conflict last") {
		t.Fatalf("want a conflict on y.png naming both files and the flag, got %v", err)
	}
	l, err := ReadSources([]string{a, b}, SourceOptions{}, Merge{OnConflict: "last"})
	if err != nil {
		t.Fatal(err)
	}
	if l.ByPath["y.png"] != "boot" || l.Overridden != 1 || !strings.Contains(l.Summary(), "1 path relabelled") {
		t.Fatalf("last: y.png=%q overridden %d summary %q", l.ByPath["y.png"], l.Overridden, l.Summary())
	}
	if _, err := ReadSources([]string{a}, SourceOptions{}, Merge{OnConflict: "first"}); err == nil {
		t.Fatal("an unknown --on-conflict value was accepted")
	}
}

func TestSourcesCase(t *testing.T) {
	a := write(t, "a.csv", "path,label\n1.png,sneaker\n2.png,sneaker\n3.png, Sneaker \n4.png,boot\n")
	_, err := ReadSources([]string{a}, SourceOptions{}, Merge{})
	if err == nil || !strings.Contains(err.Error(), `"Sneaker" (1 row, e.g. 3.png)`) || !strings.Contains(err.Error(), "--fold-case") {
		t.Fatalf("want the case variants reported, got %v", err)
	}
	l, err := ReadSources([]string{a}, SourceOptions{}, Merge{FoldCase: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(l.Classes(), ","); got != "boot,sneaker" || l.Folded["Sneaker"] != "sneaker" {
		t.Fatalf("folded classes %s (%v)", got, l.Folded)
	}
	// A spelling named by --classes wins over the more frequent one.
	l, err = ReadSources([]string{a}, SourceOptions{}, Merge{FoldCase: true, Classes: []string{"Sneaker", "boot"}})
	if err != nil || l.ByPath["1.png"] != "Sneaker" {
		t.Fatalf("preferred spelling: %v %v", l, err)
	}
}

func TestFolderLabels(t *testing.T) {
	for p, want := range map[string]string{"boot/1.png": "boot", "boot/sub/1.png": "boot", "1.png": "", "./sandal/2.png": "sandal"} {
		got, ok, err := FolderLabel(p)
		if err != nil || got != want || ok != (want != "") {
			t.Errorf("FolderLabel(%q) = %q, %v, %v; want %q", p, got, ok, err, want)
		}
	}
	if _, _, err := FolderLabel("/home/u/boot/1.png"); err == nil {
		t.Error("an absolute path got a folder label")
	}
	pq := writeParquet(t, []featstore.Row{
		{Path: "boot/1.png", SHA256: "1", Features: []float32{1, 0}},
		{Path: "sandal/2.png", SHA256: "2", Features: []float32{0, 1}},
		{Path: "boot/3.png", SHA256: "3", Features: []float32{1, 1}},
		{Path: "loose.jpg", SHA256: "4", Features: []float32{2, 2}},
	})
	fix := write(t, "fix.csv", "path,label\nboot/3.png,sandal\n")
	s, err := LoadSources(context.Background(), pq, []string{Folders, fix}, Merge{OnConflict: "last"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Classes, ","); got != "boot,sandal" || len(s.Y) != 3 || s.Counts()[1] != 2 {
		t.Fatalf("classes %s, rows %d, counts %v", got, len(s.Y), s.Counts())
	}
	if !strings.Contains(s.LabelNote, "1 image directly under the root") || !strings.Contains(s.LabelNote, "1 path relabelled") {
		t.Fatalf("label note %q", s.LabelNote)
	}
}

func TestPathMismatchNamesThePrefix(t *testing.T) {
	pq := writeParquet(t, []featstore.Row{
		{Path: "boot/1.png", SHA256: "1", Features: []float32{1, 0}},
		{Path: "sandal/2.png", SHA256: "2", Features: []float32{0, 1}},
	})
	labels := write(t, "l.csv", "path,label\nphotos/boot/1.png,boot\nphotos/sandal/2.png,sandal\n")
	_, err := Load(pq, labels, Options{})
	if err == nil {
		t.Fatal("paths with an extra folder were accepted")
	}
	msg := err.Error()
	for _, want := range []string{"2 labelled paths are not in", "boot/1.png", "photos/sandal/2.png", `start with "photos/"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	// The stored paths and the given ones are side by side on one line.
	if !regexp.MustCompile(`(?m)^  boot/1\.png +photos/boot/1\.png$`).MatchString(msg) {
		t.Errorf("no side-by-side row:\n%s", msg)
	}
	short := write(t, "s.csv", "path,label\n1.png,boot\n")
	_, err = Load(pq, short, Options{})
	if err == nil || !strings.Contains(err.Error(), `features' paths start with "boot/"`) {
		t.Fatalf("want the prefix to add named, got %v", err)
	}
}
