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
	Close() error
}

// OpenFeatures opens a Parquet feature file, or a CSV with a "path" column
// and numeric feature columns. Columns named in skip (for example the label
// column when features and labels share one CSV) are ignored.
func OpenFeatures(path string, skip ...string) (Features, error) {
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
		return &parquetFeatures{Reader: r}, nil
	}
	return openCSV(path, skip)
}

// parquetFeatures embeds the featstore reader, so callers that stream large
// files can reach its ReadBatch, which skips a copy per row.
type parquetFeatures struct {
	*featstore.Reader
}

func (p *parquetFeatures) Next() (string, []float32, error) {
	row, err := p.Reader.Next()
	return row.Path, row.Features, err
}
func (p *parquetFeatures) Dim() int { return p.Reader.Meta().Dim }

type csvFeatures struct {
	name    string
	f       *os.File
	r       *csv.Reader
	pathCol int
	cols    []int // indices of the feature columns
	vec     []float32
}

func openCSV(name string, skip []string) (*csvFeatures, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\ufeff")) {
		br.Discard(3)
	}
	c := &csvFeatures{name: name, f: f, r: csv.NewReader(br), pathCol: -1}
	c.r.ReuseRecord = true
	c.r.FieldsPerRecord = -1 // our own message names the dimension mismatch
	head, err := c.r.Read()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: reading the CSV header: %w", name, err)
	}
	for i, h := range head {
		h = strings.TrimSpace(h)
		switch {
		case strings.EqualFold(h, "path"):
			c.pathCol = i
		case containsFold(skip, h):
		default:
			c.cols = append(c.cols, i)
		}
	}
	if c.pathCol < 0 {
		f.Close()
		return nil, fmt.Errorf("%s: not a Parquet file, and as a CSV it has no \"path\" column", name)
	}
	if len(c.cols) == 0 {
		f.Close()
		return nil, fmt.Errorf("%s: no feature columns besides path", name)
	}
	c.vec = make([]float32, len(c.cols))
	return c, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func (c *csvFeatures) Next() (string, []float32, error) {
	rec, err := c.r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return "", nil, io.EOF
		}
		return "", nil, fmt.Errorf("%s: %w", c.name, err)
	}
	line, _ := c.r.FieldPos(0)
	need := c.pathCol
	for _, i := range c.cols {
		need = max(need, i)
	}
	if len(rec) <= need {
		return "", nil, fmt.Errorf("%s:%d: %d fields, the header has more: dimension mismatch", c.name, line, len(rec))
	}
	for k, i := range c.cols {
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[i]), 32)
		if err != nil {
			return "", nil, fmt.Errorf("%s:%d: column %d is not a number: %q", c.name, line, i+1, rec[i])
		}
		c.vec[k] = float32(v)
	}
	return rec[c.pathCol], c.vec, nil
}
func (c *csvFeatures) Meta() featstore.Meta { return featstore.Meta{Dim: len(c.cols)} }
func (c *csvFeatures) Dim() int             { return len(c.cols) }
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
