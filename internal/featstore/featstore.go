// Package featstore stores image feature vectors in a Parquet file: one row
// per image, written by `winnow featurize` and read by train, evaluate and
// select.
//
// The file is plain Parquet so that DuckDB, pandas and pyarrow read it as is:
//
//	path     BYTE_ARRAY (STRING)   image path as given to featurize
//	sha256   BYTE_ARRAY (STRING)   lower-case hex SHA-256 of the file bytes
//	width    INT32                 decoded image width in pixels
//	height   INT32                 decoded image height in pixels
//	features LIST<FLOAT>           standard 3-level list, Dim values per row
//
// The backbone and preprocessing that produced the vectors travel in the
// file's key-value metadata (see Meta), because vectors from different
// backbones or preprocessing are not comparable and must never be mixed.
package featstore

import (
	"errors"
	"fmt"
	"strconv"
)

// Key-value metadata keys written into every file.
const (
	KeyBackbone       = "winnow.backbone"
	KeyBackboneSHA256 = "winnow.backbone_sha256"
	KeyDim            = "winnow.dim"
	KeyPreprocess     = "winnow.preprocess"
	KeyVersion        = "winnow.version"
)

// Meta describes how the vectors in a file were produced.
type Meta struct {
	Backbone       string // backbone model name
	BackboneSHA256 string // hex SHA-256 of the model file, so a renamed model is still recognised
	Preprocess     string // preprocessing spec (resize, crop, normalisation)
	Version        string // winnow version that wrote the file; informational only
	Dim            int    // length of every feature vector
}

// Row is one image and its feature vector.
type Row struct {
	Path          string
	SHA256        string
	Width, Height int32
	Features      []float32
}

// ErrIncompatible is wrapped by errors reporting that two files (or a file
// and the expected Meta) hold vectors that cannot be mixed.
var ErrIncompatible = errors.New("incompatible feature files")

// Compatible reports, as an error wrapping ErrIncompatible, whether vectors
// described by other can be mixed with those described by m. Version is
// deliberately ignored: a newer winnow may append to an older file as long
// as the vectors themselves are the same kind.
func (m Meta) Compatible(other Meta) error {
	switch {
	case m.Backbone != other.Backbone:
		return fmt.Errorf("%w: backbone %q vs %q", ErrIncompatible, m.Backbone, other.Backbone)
	case m.BackboneSHA256 != other.BackboneSHA256:
		return fmt.Errorf("%w: backbone sha256 %q vs %q", ErrIncompatible, m.BackboneSHA256, other.BackboneSHA256)
	case m.Dim != other.Dim:
		return fmt.Errorf("%w: dim %d vs %d", ErrIncompatible, m.Dim, other.Dim)
	case m.Preprocess != other.Preprocess:
		// Same backbone with different resizing or normalisation gives
		// vectors from a different distribution; mixing them silently would
		// hurt the classifier in ways nobody would notice.
		return fmt.Errorf("%w: preprocess %q vs %q", ErrIncompatible, m.Preprocess, other.Preprocess)
	}
	return nil
}

func (m Meta) validate() error {
	if m.Dim <= 0 {
		return fmt.Errorf("featstore: dim must be positive, got %d", m.Dim)
	}
	return nil
}

func (m Meta) keyValues() [][2]string {
	return [][2]string{
		{KeyBackbone, m.Backbone},
		{KeyBackboneSHA256, m.BackboneSHA256},
		{KeyDim, strconv.Itoa(m.Dim)},
		{KeyPreprocess, m.Preprocess},
		{KeyVersion, m.Version},
	}
}

// record is the on-disk row layout. Features uses the "list" tag so the
// column is the standard 3-level LIST (features.list.element) that other
// readers map to FLOAT[] / list<float>, not the legacy bare repeated field.
// Strings are PLAIN rather than parquet-go's default DELTA_LENGTH_BYTE_ARRAY,
// which some older readers lack; they are a few percent of the file anyway.
type record struct {
	Path     string    `parquet:"path,plain"`
	SHA256   string    `parquet:"sha256,plain"`
	Width    int32     `parquet:"width"`
	Height   int32     `parquet:"height"`
	Features []float32 `parquet:"features,list"`
}
