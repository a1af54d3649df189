// Package dataset joins feature vectors with labels: it reads features from
// the Parquet files featurize writes or from a CSV of numbers (as R and
// pandas users have them), reads a labels CSV, and makes every decision about
// bad rows explicit and counted.
package dataset

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/winnowml/winnow/internal/featstore"
)

// Features streams (path, vector) rows from a feature file.
type Features interface {
	// Next returns the next row; the vector is only valid until the next
	// call. io.EOF at the end.
	Next() (path string, vec []float32, err error)
	// Meta describes the backbone; zero for CSV files, which carry none.
	Meta() featstore.Meta
	// Dim is the vector length.
	Dim() int
	// Columns names the vector's entries, in order: a CSV's header names,
	// or f0..f{Dim-1} for Parquet (featstore.ColumnNames).
	Columns() []string
	// CSV tells a CSV (which records no backbone) from Parquet.
	CSV() bool
	Close() error
}

// Columns says which columns of a feature file are features.
type Columns struct {
	// Label is the label column of a CSV that also holds the labels: never
	// a feature. Empty: "label".
	Label string
	// Ignore are other columns that are not features (metadata such as an
	// id or a date).
	Ignore []string
	// Want, when set, are exactly the columns to read, by name and in this
	// order, whatever order the file has them in: a model's columns. Other
	// columns are then not read at all.
	Want []string
}

// OpenFeatures opens a Parquet feature file, or a CSV with a "path" column
// whose feature columns are its numeric columns other than path, the label
// column and the ignored ones. A column that is not numeric and not skipped
// is an error that names it, before any row is read.
func OpenFeatures(path string, c Columns) (Features, error) {
	if c.Label == "" {
		c.Label = "label"
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	magic := make([]byte, 4)
	_, err = io.ReadFull(f, magic)
	f.Close()
	if err == nil && string(magic) == "PAR1" {
		r, err := featstore.Open(path)
		if err != nil {
			return nil, err
		}
		pf := &parquetFeatures{Reader: r}
		if c.Want == nil || slices.Equal(c.Want, pf.Columns()) {
			return pf, nil
		}
		if len(c.Want) != pf.Dim() {
			r.Close()
			return nil, fmt.Errorf("%s: the features have %d dimensions, the model was trained on %d", path, pf.Dim(), len(c.Want))
		}
		perm, err := pick(path, pf.Columns(), c.Want, "featurize names a Parquet file's columns f0..f%d")
		if err != nil {
			r.Close()
			return nil, err
		}
		return &permuted{parquetFeatures: pf, perm: perm, vec: make([]float32, len(perm))}, nil
	}
	return openCSV(path, c)
}

// pick maps wanted column names to their indices in have; a missing one is
// an error naming it.
func pick(file string, have, want []string, hint string) ([]int, error) {
	at := make(map[string]int, len(have))
	for i, h := range have {
		if _, dup := at[h]; !dup {
			at[h] = i
		}
	}
	idx := make([]int, len(want))
	var missing []string
	for k, w := range want {
		i, ok := at[w]
		if !ok {
			missing = append(missing, w)
			continue
		}
		idx[k] = i
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("%s lacks %d of the model's feature columns: %s", file, len(missing), firstFew(missing))
		if hint != "" {
			msg += " (" + fmt.Sprintf(hint, len(have)-1) + ")"
		}
		return nil, errors.New(msg)
	}
	return idx, nil
}

// parquetFeatures embeds the featstore reader, so callers that stream large
// files can reach its ReadBatch, which skips a copy per row.
type parquetFeatures struct {
	*featstore.Reader
	names []string
}

func (p *parquetFeatures) Next() (string, []float32, error) {
	row, err := p.Reader.Next()
	return row.Path, row.Features, err
}
func (p *parquetFeatures) Dim() int  { return p.Reader.Meta().Dim }
func (p *parquetFeatures) CSV() bool { return false }
func (p *parquetFeatures) Columns() []string {
	if p.names == nil {
		p.names = featstore.ColumnNames(p.Dim())
	}
	return p.names
}

// permuted reads a Parquet file's columns in another order. It hides
// ReadBatch on purpose: a batch reader would bypass the permutation.
type permuted struct {
	parquetFeatures *parquetFeatures
	perm            []int
	vec             []float32
}

func (p *permuted) Next() (string, []float32, error) {
	path, v, err := p.parquetFeatures.Next()
	if err != nil {
		return path, nil, err
	}
	for k, i := range p.perm {
		p.vec[k] = v[i]
	}
	return path, p.vec, nil
}
func (p *permuted) Meta() featstore.Meta {
	m := p.parquetFeatures.Meta()
	m.Dim = len(p.perm)
	return m
}
func (p *permuted) Dim() int     { return len(p.perm) }
func (p *permuted) CSV() bool    { return false }
func (p *permuted) Close() error { return p.parquetFeatures.Close() }
func (p *permuted) Columns() []string {
	all := p.parquetFeatures.Columns()
	out := make([]string, len(p.perm))
	for k, i := range p.perm {
		out[k] = all[i]
	}
	return out
}

type csvFeatures struct {
	name    string
	f       *os.File
	r       *csv.Reader
	pathCol int
	cols    []int    // indices of the feature columns, in vector order
	names   []string // their header names
	vec     []float32
	first   []string // the first data row, read ahead to check the columns
	need    int      // highest column index read
}

func openCSV(name string, c Columns) (*csvFeatures, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	cf, err := newCSV(name, f, c)
	if err != nil {
		f.Close()
		return nil, err
	}
	return cf, nil
}

func newCSV(name string, f *os.File, c Columns) (*csvFeatures, error) {
	br := bufio.NewReaderSize(f, 1<<20)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\ufeff")) {
		br.Discard(3)
	}
	cf := &csvFeatures{name: name, f: f, r: csv.NewReader(br), pathCol: -1}
	cf.r.ReuseRecord = true
	cf.r.FieldsPerRecord = -1 // our own message names the dimension mismatch
	head, err := cf.r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the CSV header: %w", name, err)
	}
	head = slices.Clone(head)
	var candidates []int
	for i, h := range head {
		h = strings.TrimSpace(h)
		head[i] = h
		switch {
		case strings.EqualFold(h, "path") && cf.pathCol < 0:
			cf.pathCol = i
		case h == c.Label || slices.Contains(c.Ignore, h):
		default:
			candidates = append(candidates, i)
		}
	}
	if cf.pathCol < 0 {
		return nil, fmt.Errorf("%s: not a Parquet file, and as a CSV it has no \"path\" column", name)
	}
	if c.Want != nil {
		idx, err := pick(name, head, c.Want, "")
		if err != nil {
			return nil, err
		}
		candidates = idx
	}
	if len(candidates) == 0 {
		return nil, fmt.Errorf("%s: no feature columns besides path", name)
	}
	seen := map[string]bool{}
	for _, i := range candidates {
		if seen[head[i]] {
			return nil, fmt.Errorf("%s: two columns are named %q; a feature column is known by its name", name, head[i])
		}
		seen[head[i]] = true
		cf.names = append(cf.names, head[i])
	}
	cf.cols = candidates
	cf.need = cf.pathCol
	for _, i := range cf.cols {
		cf.need = max(cf.need, i)
	}
	// Read the first row now, so a column of words (a class, a date) is
	// reported by name before any caller has done any work.
	first, err := cf.r.Read()
	switch {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, fmt.Errorf("%s: %w", name, err)
	default:
		cf.first = slices.Clone(first)
		if len(first) > cf.need {
			for _, i := range cf.cols {
				if _, err := parseFeature(first[i]); err != nil && !errors.Is(err, errRange) {
					return nil, fmt.Errorf("%s: column %q is not numeric (first row: %q); if it holds the labels, name it with --label-column %s, otherwise skip it with --ignore-columns %s",
						name, head[i], first[i], head[i], head[i])
				}
			}
		}
	}
	cf.vec = make([]float32, len(cf.cols))
	return cf, nil
}

var errRange = errors.New("out of float32 range")

// parseFeature reads one feature value as float32.
func parseFeature(s string) (float32, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, errRange
		}
		return 0, err
	}
	return float32(v), nil
}

func (c *csvFeatures) Next() (string, []float32, error) {
	var rec []string
	if c.first != nil {
		rec, c.first = c.first, nil
	} else {
		var err error
		rec, err = c.r.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", nil, io.EOF
			}
			return "", nil, fmt.Errorf("%s: %w", c.name, err)
		}
	}
	line, _ := c.r.FieldPos(0)
	if len(rec) <= c.need {
		return "", nil, fmt.Errorf("%s:%d: %d fields, the header has more: dimension mismatch", c.name, line, len(rec))
	}
	for k, i := range c.cols {
		v, err := parseFeature(rec[i])
		if errors.Is(err, errRange) {
			return "", nil, fmt.Errorf("%s:%d: column %q: %q is out of float32 range", c.name, line, c.names[k], rec[i])
		}
		if err != nil {
			return "", nil, fmt.Errorf("%s:%d: column %q is not a number: %q", c.name, line, c.names[k], rec[i])
		}
		c.vec[k] = v
	}
	return rec[c.pathCol], c.vec, nil
}
func (c *csvFeatures) Meta() featstore.Meta { return featstore.Meta{Dim: len(c.cols)} }
func (c *csvFeatures) Dim() int             { return len(c.cols) }
func (c *csvFeatures) Columns() []string    { return c.names }
func (c *csvFeatures) CSV() bool            { return true }
func (c *csvFeatures) Close() error         { return c.f.Close() }

// FirstNonFinite reports the index of the first NaN or infinite value, or -1.
func FirstNonFinite(v []float32) int {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return i
		}
	}
	return -1
}
