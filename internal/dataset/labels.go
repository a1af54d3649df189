package dataset

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Labels maps image paths to their label. An empty label means "looked at,
// no usable label" (the workshop's NA): it is kept so callers can count it.
type Labels struct {
	ByPath map[string]string
	Order  []string // paths in file order, for stable outputs
	// Repeats counts rows repeating an earlier path with the same label.
	Repeats int
}

// ReadLabels reads a CSV with a "path" column and the label column.
// A path given two different labels is an error naming the first such paths.
func ReadLabels(name, column string) (*Labels, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\ufeff")) {
		br.Discard(3)
	}
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the CSV header: %w", name, err)
	}
	pathCol, labelCol := -1, -1
	for i, h := range head {
		h = strings.TrimSpace(h)
		if strings.EqualFold(h, "path") {
			pathCol = i
		}
		if h == column {
			labelCol = i
		}
	}
	if pathCol < 0 || labelCol < 0 {
		return nil, fmt.Errorf("%s: need columns \"path\" and %q (--label-column); the header has: %s", name, column, strings.Join(head, ", "))
	}
	l := &Labels{ByPath: map[string]string{}}
	var conflicts []string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(rec) <= max(pathCol, labelCol) {
			line, _ := r.FieldPos(0)
			return nil, fmt.Errorf("%s:%d: too few fields", name, line)
		}
		// Paths verbatim (featurize records " a.png" with its space), labels
		// trimmed ("cat " is a typo for "cat").
		p, lab := rec[pathCol], strings.TrimSpace(rec[labelCol])
		if strings.TrimSpace(p) == "" {
			continue
		}
		if old, seen := l.ByPath[p]; seen {
			if old != lab {
				conflicts = append(conflicts, fmt.Sprintf("%s (%q and %q)", p, old, lab))
			} else {
				l.Repeats++
			}
			continue
		}
		l.ByPath[p] = lab
		l.Order = append(l.Order, p)
	}
	if len(conflicts) > 0 {
		return nil, fmt.Errorf("%s: %d paths have conflicting labels: %s", name, len(conflicts), firstFew(conflicts))
	}
	return l, nil
}

// Classes returns the distinct non-empty labels, sorted: the class order
// when none is given.
func (l *Labels) Classes() []string {
	seen := map[string]bool{}
	var out []string
	for _, lab := range l.ByPath {
		if lab != "" && !seen[lab] {
			seen[lab] = true
			out = append(out, lab)
		}
	}
	sort.Strings(out)
	return out
}

func firstFew(s []string) string {
	const n = 5
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:n], ", ") + fmt.Sprintf(", ... (%d more)", len(s)-n)
}
