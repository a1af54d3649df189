package featstore

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// genericReader reads a Parquet file that is not laid out exactly as
// featurize writes it, but holds the same data: a string column "path" and a
// list-of-float column "features" (float or double), optionally "sha256",
// "width" and "height", any of them nullable, in any order, with any
// encoding. DuckDB, pandas and Spark rewrite featurize's files this way. It
// goes through parquet-go's row reader, slower than the page cursors of the
// exact layout but exact.
type genericReader struct {
	path, features, sha, width, height int // leaf column indexes; -1: absent
	featDef                            int // definition level of a present element

	rows parquet.Rows // of the current row group
	rg   int
	buf  []parquet.Row
}

// openGeneric finds the columns, or says which are missing or of the wrong
// type, naming the file's columns (not its whole schema).
func openGeneric(pf *parquet.File) (*genericReader, error) {
	s := pf.Schema()
	g := &genericReader{path: -1, features: -1, sha: -1, width: -1, height: -1, rg: -1}
	var names, featLeaves []string
	for _, col := range s.Columns() {
		names = append(names, strings.Join(col, "."))
		leaf, _ := s.Lookup(col...)
		kind := leaf.Node.Type().Kind()
		switch {
		case len(col) == 1 && col[0] == "path" && kind == parquet.ByteArray && leaf.MaxRepetitionLevel == 0:
			g.path = leaf.ColumnIndex
		case len(col) == 1 && col[0] == "sha256" && kind == parquet.ByteArray && leaf.MaxRepetitionLevel == 0:
			g.sha = leaf.ColumnIndex
		case len(col) == 1 && col[0] == "width" && kind == parquet.Int32 && leaf.MaxRepetitionLevel == 0:
			g.width = leaf.ColumnIndex
		case len(col) == 1 && col[0] == "height" && kind == parquet.Int32 && leaf.MaxRepetitionLevel == 0:
			g.height = leaf.ColumnIndex
		case col[0] == "features":
			featLeaves = append(featLeaves, strings.Join(col, "."))
			if leaf.MaxRepetitionLevel == 1 && (kind == parquet.Float || kind == parquet.Double) {
				g.features, g.featDef = leaf.ColumnIndex, leaf.MaxDefinitionLevel
			}
		}
	}
	if g.path < 0 || g.features < 0 || len(featLeaves) != 1 {
		return nil, fmt.Errorf("not a feature file: want a string column \"path\" and a column \"features\" holding a list of floats; the file's columns are %s",
			strings.Join(names, ", "))
	}
	return g, nil
}

// lenientMeta reads winnow's metadata where present: a file written by
// another tool has none, and its backbone is then unknown ("").
func lenientMeta(pf *parquet.File) Meta {
	var m Meta
	m.Backbone, _ = pf.Lookup(KeyBackbone)
	m.BackboneSHA256, _ = pf.Lookup(KeyBackboneSHA256)
	m.Preprocess, _ = pf.Lookup(KeyPreprocess)
	m.Version, _ = pf.Lookup(KeyVersion)
	if v, ok := pf.Lookup(KeyDim); ok {
		if d, err := strconv.Atoi(v); err == nil && d > 0 {
			m.Dim = d
		}
	}
	return m
}

// readGeneric fills dst with the next rows of the current row group.
func (r *Reader) readGeneric(dst []Row) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	g := r.gen
	for g.rows == nil {
		if g.rg+1 >= len(r.rgs) {
			if r.read != r.pf.NumRows() {
				return 0, r.fail(fmt.Errorf("read %d rows, footer says %d", r.read, r.pf.NumRows()))
			}
			return 0, r.fail(io.EOF)
		}
		g.rg++
		g.rows = r.rgs[g.rg].Rows()
	}
	if cap(g.buf) < len(dst) {
		g.buf = make([]parquet.Row, len(dst))
	}
	buf := g.buf[:len(dst)]
	n, err := g.rows.ReadRows(buf)
	if errors.Is(err, io.EOF) {
		g.rows.Close()
		g.rows = nil
		err = nil
	}
	if err != nil {
		return 0, r.fail(err)
	}
	for i, row := range buf[:n] {
		out := &dst[i]
		*out = Row{Features: out.Features[:0]}
		hasPath := false
		for _, v := range row {
			switch v.Column() {
			case g.path:
				if !v.IsNull() {
					out.Path, hasPath = string(v.ByteArray()), true
				}
			case g.sha:
				if !v.IsNull() {
					out.SHA256 = string(v.ByteArray())
				}
			case g.width:
				if !v.IsNull() {
					out.Width = v.Int32()
				}
			case g.height:
				if !v.IsNull() {
					out.Height = v.Int32()
				}
			case g.features:
				if v.DefinitionLevel() != g.featDef {
					return 0, r.fail(fmt.Errorf("row %d: features is null, empty or holds a null", r.read+int64(i)))
				}
				if v.Kind() == parquet.Double {
					out.Features = append(out.Features, float32(v.Double()))
				} else {
					out.Features = append(out.Features, v.Float())
				}
			}
		}
		if !hasPath {
			return 0, r.fail(fmt.Errorf("row %d: path is null", r.read+int64(i)))
		}
		if r.meta.Dim == 0 {
			r.meta.Dim = len(out.Features) // the first row tells
		}
		if len(out.Features) != r.meta.Dim {
			return 0, r.fail(fmt.Errorf("row %d (%s) has %d features, the first row %d", r.read+int64(i), out.Path, len(out.Features), r.meta.Dim))
		}
	}
	r.read += int64(n)
	return n, nil
}
