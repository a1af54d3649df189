package assess

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowml/winnow/internal/labelstore"
)

// TestTruthFile: --truth says how many of its rows name project images,
// and refuses a file that is not a CSV of path and label before any model
// trains.
func TestTruthFile(t *testing.T) {
	w := newWorld(t, 12, 8, 8, 0)
	ctx := context.Background()
	items, _ := w.p.Store().Items(ctx)
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("path,label\n")
	n := 0
	for _, it := range items {
		if it.Role == labelstore.RolePool && n < 5 {
			fmt.Fprintf(&b, "%s,%s\n", it.Path, w.truth[it.ID])
			n++
		}
	}
	fmt.Fprintf(&b, "%s,parka\n", items[len(items)-1].Path)
	b.WriteString("gone/1.png,coat\ngone/2.png,bag\n")
	good := filepath.Join(dir, "truth.csv")
	os.WriteFile(good, []byte(b.String()), 0o644)

	rep, err := Run(ctx, w.p, Options{Truth: good})
	if err != nil {
		t.Fatal(err)
	}
	tr := rep.Truth
	if tr == nil || tr.Rows != 8 || tr.Matched != 6 || tr.UnknownPaths != 2 || tr.NotClasses != 1 {
		t.Fatalf("truth summary %+v", tr)
	}
	if got, want := tr.String(), "6 of 8 rows matched project images; 2 unknown paths; 1 label not a class of the project (left out)"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}

	png := filepath.Join(dir, "photo.png")
	os.WriteFile(png, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"), 0o644)
	noHeader := filepath.Join(dir, "plain.csv")
	os.WriteFile(noHeader, []byte("file;class\na.png;coat\n"), 0o644)
	nothing := filepath.Join(dir, "other.csv")
	os.WriteFile(nothing, []byte("path,label\nelsewhere/1.png,coat\n"), 0o644)
	for file, want := range map[string]string{png: "not a CSV", noHeader: `need columns "path"`, nothing: "none of its 1 row names"} {
		_, err := Run(ctx, w.p, Options{Models: true, Truth: file})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--truth "+file) {
			t.Errorf("--truth %s: error %v, want one naming the flag, the file and %q", filepath.Base(file), err, want)
		}
	}
}
