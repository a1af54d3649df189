package featstore

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ColumnNames are the names of a Parquet file's feature columns: f0 to
// f{dim-1}, as ExportCSV writes them, so a model trained on either accepts
// the other by name.
func ColumnNames(dim int) []string {
	names := make([]string, dim)
	for j := range names {
		names[j] = "f" + strconv.Itoa(j)
	}
	return names
}

// ExportCSV writes the rows of the feature file src as CSV: a header
// path,f0,...,f{Dim-1}, then one line per row. Floats are formatted as the
// shortest decimal that parses back to the same float32, so the export is
// lossless. It streams, like Reader.
//
// withMeta adds sha256,width,height after path, as the file stores them. A
// file from another tool may lack them: their cells are then empty, not
// 0, since no image is 0 pixels wide.
func ExportCSV(src string, w io.Writer, withMeta bool) error {
	r, err := Open(src)
	if err != nil {
		return err
	}
	defer r.Close()
	dim := r.Meta().Dim
	cw := csv.NewWriter(w)
	head := []string{"path"}
	if withMeta {
		head = append(head, "sha256", "width", "height")
	}
	first := len(head)
	rec := append(head, ColumnNames(dim)...)
	if err := cw.Write(rec); err != nil {
		return fmt.Errorf("featstore: export: %w", err)
	}
	buf := make([]Row, 256)
	var num []byte
	for {
		n, err := r.ReadBatch(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		for _, row := range buf[:n] {
			rec[0] = row.Path
			if withMeta {
				rec[1], rec[2], rec[3] = row.SHA256, size(row.Width), size(row.Height)
			}
			for j, v := range row.Features {
				num = strconv.AppendFloat(num[:0], float64(v), 'g', -1, 32)
				rec[first+j] = string(num)
			}
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("featstore: export: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("featstore: export: %w", err)
	}
	return nil
}

func size(v int32) string {
	if v == 0 {
		return ""
	}
	return strconv.Itoa(int(v))
}
