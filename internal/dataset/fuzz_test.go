package dataset

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/winnowml/winnow/internal/featstore"
)

// FuzzOpenFeatures: no feature file, CSV or Parquet, makes the readers
// panic, and every row they return has the advertised length.
func FuzzOpenFeatures(f *testing.F) {
	for _, csv := range []string{
		"path,f0,f1,f2\na.png,1,2,3\nb.png,4,5,6\n",
		"path,f2,f1,f0\na.png,3,2,1\n",     // columns reversed
		"path,f0,f1\na.png,1e39,2\n",       // out of float32 range
		"path,f0,f1\na.png,NaN,2\n",        // not finite
		"path,label,f0\na.png,cat,1\n",     // label column
		"\ufeffpath;f0\na.png;1\n",         // wrong separator
		"path,f0,f1\na.png,1\n",            // short row
		"path,f0,f0\na.png,1,2\n",          // repeated name
		"f0,f1\n1,2\n",                     // no path
		"path,\"f\"\"0\"\n\"a\n.png\",1\n", // quotes and newline in a field
	} {
		f.Add([]byte(csv))
	}
	// A real Parquet file, whose mutations exercise the footer, schema,
	// page and list decoding.
	dir := f.TempDir()
	p := filepath.Join(dir, "seed.parquet")
	w, err := featstore.Create(p, featstore.Meta{Backbone: "b", BackboneSHA256: "00", Dim: 3, Preprocess: "pad"})
	if err != nil {
		f.Fatal(err)
	}
	w.Write(featstore.Row{Path: "a.png", SHA256: "aa", Width: 2, Height: 2, Features: []float32{1, 2, 3}},
		featstore.Row{Path: "b.png", SHA256: "bb", Width: 2, Height: 2, Features: []float32{4, 5, 6}})
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add(append([]byte("PAR1"), bytes.Repeat([]byte{0xff}, 64)...))

	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, c := range []Columns{{}, {Want: []string{"f1", "f0"}}} {
			src, err := OpenFeatures(path, c)
			if err != nil {
				continue
			}
			d := src.Dim()
			for i := 0; i < 10000; i++ {
				_, vec, err := src.Next()
				if errors.Is(err, io.EOF) || err != nil {
					break
				}
				if len(vec) != d {
					t.Fatalf("row %d has %d values, Dim says %d", i, len(vec), d)
				}
			}
			src.Close()
		}
	})
}
