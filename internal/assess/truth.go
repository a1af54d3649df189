package assess

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/plural"
)

// Truth is what Options.Truth held: how many of its rows name images of
// the project, so that a file made for another project, or with paths
// written differently, shows as such instead of as a quietly small model.
type Truth struct {
	File string `json:"file"`
	Rows int    `json:"rows"` // distinct paths
	// Matched rows name a project image; UnknownPaths do not. NotClasses
	// are matched rows whose label is not a class of the project (empty
	// included): they are left out of the true labels.
	Matched      int `json:"matched"`
	UnknownPaths int `json:"unknown_paths"`
	NotClasses   int `json:"not_classes"`
	labels       map[string]string
}

// String is the summary winnow assess prints.
func (t *Truth) String() string {
	s := fmt.Sprintf("%d of %d rows matched project images; %s", t.Matched, t.Rows, plural.N(t.UnknownPaths, "unknown path"))
	if t.NotClasses > 0 {
		s += fmt.Sprintf("; %s not a class of the project (left out)", plural.N(t.NotClasses, "label"))
	}
	return s
}

// readTruth reads the true labels and matches them to the items. A file
// that is not text, has no path and label columns, or names no project
// image is an error naming the flag: it is a wrong file, and a model
// trained on it would be the initial set's under another name.
func readTruth(name string, items []labelstore.Item, classes []string) (*Truth, error) {
	wrap := func(err error) error { return fmt.Errorf("--truth %s: %w", name, err) }
	if err := sniffCSV(name); err != nil {
		return nil, wrap(err)
	}
	l, err := dataset.ReadLabels(name, "label")
	if err != nil {
		if strings.HasPrefix(err.Error(), name+":") { // ReadLabels named the file
			return nil, fmt.Errorf("--truth %w", err)
		}
		return nil, wrap(err)
	}
	known := map[string]bool{}
	for _, it := range items {
		known[it.Path] = true
	}
	isClass := map[string]bool{}
	for _, c := range classes {
		isClass[c] = true
	}
	t := &Truth{File: name, Rows: len(l.Order), labels: map[string]string{}}
	for _, p := range l.Order {
		switch lab := l.ByPath[p]; {
		case !known[p]:
			t.UnknownPaths++
		case !isClass[lab]:
			t.Matched++
			t.NotClasses++
		default:
			t.Matched++
			t.labels[p] = lab
		}
	}
	if t.Matched == 0 {
		return nil, wrap(fmt.Errorf("none of its %s names an image of the project (paths are as featurize recorded them, relative to the image folder)", plural.N(t.Rows, "row")))
	}
	return t, nil
}

// sniffCSV refuses binary data (an image, a Parquet or a spreadsheet file
// given by mistake), which the CSV reader would otherwise read as one odd
// header.
func sniffCSV(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 8192)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return err
	}
	head = head[:n]
	// A multi-byte character cut at the end of the sample is not binary.
	for i := 0; i < 3 && len(head) > 0 && !utf8.Valid(head); i++ {
		head = head[:len(head)-1]
	}
	if bytes.IndexByte(head, 0) >= 0 || !utf8.Valid(head) {
		start := strings.ToValidUTF8(string(head[:min(len(head), 8)]), "?")
		return fmt.Errorf("not a CSV: binary data (it starts with %q)", start)
	}
	return nil
}
