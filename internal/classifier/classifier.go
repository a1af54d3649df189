// Package classifier is the trained model as winnow saves it: the linear
// model, the class names, and the identity of the backbone whose features it
// was trained on, so it is never applied to features of another kind.
package classifier

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/novelty"
	"github.com/winnowml/winnow/internal/outfile"
)

// Format identifies the model file layout; bump it on incompatible changes.
const Format = "winnow-model/1"

// Backbone is what the features were made with. Empty fields mean the
// features came from a CSV, which records no backbone.
type Backbone struct {
	Name       string `json:"name,omitempty"`
	SHA256     string `json:"sha256,omitempty"`
	Dim        int    `json:"dim"`
	Preprocess string `json:"preprocess,omitempty"`
}

// BackboneOf extracts the identity from a feature file's metadata.
func BackboneOf(m featstore.Meta) Backbone {
	return Backbone{Name: m.Backbone, SHA256: m.BackboneSHA256, Dim: m.Dim, Preprocess: m.Preprocess}
}

// Training records how the model came about.
type Training struct {
	Features string         `json:"features"`
	Labels   string         `json:"labels"`
	Rows     int            `json:"rows"`
	PerClass map[string]int `json:"per_class"`
	Dropped  string         `json:"dropped,omitempty"`
	CV       any            `json:"cv,omitempty"`
	// Paths are the training rows' paths as a compact set (PathSet), so
	// evaluate can warn about test rows the model was trained on.
	Paths *PathSet `json:"paths,omitempty"`
}

// File is a saved model.
type File struct {
	Format   string    `json:"format"`
	Winnow   string    `json:"winnow_version"`
	Created  time.Time `json:"created"`
	Backbone Backbone  `json:"backbone"`
	// FeatureColumns are the CSV header names the model was trained on, in
	// the model's order; empty for a model trained on Parquet, whose
	// columns are featurize's f0..f{D-1}.
	FeatureColumns []string      `json:"feature_columns,omitempty"`
	Model          *linear.Model `json:"model"`
	Training       Training      `json:"training"`
	// Calibration is the confidence cut `evaluate --calibrate` measured;
	// nil until then.
	Calibration *Calibration `json:"calibration,omitempty"`
	// Novelty is the labelled rows in the model's normalised space, so
	// predict and select can say how unlike them an image is without
	// being given the training data again; nil in models from before it.
	Novelty *novelty.Ref `json:"novelty,omitempty"`
}

// Calibration is the confidence cut that reached a target accuracy on
// labelled rows: classify settles the predictions at or above it and leaves
// the rest to people. A nil threshold means no cut reached the target, so
// nothing is settled.
type Calibration struct {
	TargetAccuracy float64  `json:"target_accuracy"`
	Threshold      *float64 `json:"threshold"`
	// Per-class targets replace the overall cut for the rows predicted as
	// that class (the class's precision must reach its target).
	ClassTargets    map[string]float64  `json:"class_targets,omitempty"`
	ClassThresholds map[string]*float64 `json:"class_thresholds,omitempty"`
	Rows            int                 `json:"rows"` // labelled rows it was measured on
	Features        string              `json:"features"`
	Labels          string              `json:"labels"`
}

// Save writes the model atomically (temporary file, fsync, rename).
func Save(path string, f *File) error {
	f.Format = Format
	data, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return err
	}
	return outfile.WriteFile(path, append(data, '\n'))
}

// Load reads and checks a model file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: not a winnow model: %w", path, err)
	}
	if f.Format != Format {
		return nil, fmt.Errorf("%s: format %q, this winnow reads %q", path, f.Format, Format)
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("%s: not a usable model: %w", path, err)
	}
	return &f, nil
}

// validate checks what a hand-edited or damaged file could get wrong: a
// model that loads is one whose predictions are finite probabilities.
func (f *File) validate() error {
	m := f.Model
	if m == nil {
		return errors.New("no \"model\"")
	}
	if err := m.Validate(); err != nil {
		return err
	}
	if len(m.Classes) != m.K() {
		return fmt.Errorf("%d class names for %d classes", len(m.Classes), m.K())
	}
	seen := map[string]bool{}
	for _, c := range m.Classes {
		if c == "" {
			return errors.New("a class name is empty")
		}
		if seen[c] {
			return fmt.Errorf("class %q appears twice", c)
		}
		seen[c] = true
	}
	if m.D() != f.Backbone.Dim {
		return fmt.Errorf("%d weights per class, the backbone's dimension is %d", m.D(), f.Backbone.Dim)
	}
	if n := len(f.FeatureColumns); n > 0 && n != m.D() {
		return fmt.Errorf("%d feature column names for %d weights per class", n, m.D())
	}
	if c := f.Calibration; c != nil {
		if err := c.validate(seen); err != nil {
			return fmt.Errorf("calibration: %w", err)
		}
	}
	return nil
}

// validate refuses a cut that would settle rows by a meaningless number: a
// target or threshold outside [0, 1], a class the model does not have.
func (c *Calibration) validate(classes map[string]bool) error {
	prob := func(v float64) bool { return v >= 0 && v <= 1 } // false for NaN
	if !(c.TargetAccuracy > 0 && c.TargetAccuracy <= 1) {
		return fmt.Errorf("target_accuracy %v is not in (0, 1]", c.TargetAccuracy)
	}
	if c.Threshold != nil && !prob(*c.Threshold) {
		return fmt.Errorf("threshold %v is not in [0, 1]", *c.Threshold)
	}
	for k, v := range c.ClassTargets {
		if !classes[k] {
			return fmt.Errorf("class_targets names %q, not a class of the model", k)
		}
		if !(v > 0 && v <= 1) {
			return fmt.Errorf("class_targets[%q] %v is not in (0, 1]", k, v)
		}
		if _, ok := c.ClassThresholds[k]; !ok {
			return fmt.Errorf("class %q has a target but no threshold", k)
		}
	}
	for k, v := range c.ClassThresholds {
		if _, ok := c.ClassTargets[k]; !ok {
			return fmt.Errorf("class_thresholds names %q, which has no class target", k)
		}
		if v != nil && !prob(*v) {
			return fmt.Errorf("class_thresholds[%q] %v is not in [0, 1]", k, *v)
		}
	}
	return nil
}

// Check refuses features that the model cannot have been trained for.
func (f *File) Check(features featstore.Meta) error {
	if features.Dim != f.Backbone.Dim {
		return fmt.Errorf("the features have %d dimensions, the model was trained on %d", features.Dim, f.Backbone.Dim)
	}
	// Both sides name a backbone: it must be the same file, preprocessed
	// the same way. A CSV on either side records none; the dimension check
	// is all we can do then.
	if f.Backbone.SHA256 != "" && features.BackboneSHA256 != "" {
		if f.Backbone.SHA256 != features.BackboneSHA256 {
			return fmt.Errorf("the features come from backbone %s (sha256 %.12s), the model was trained on %s (sha256 %.12s)",
				features.Backbone, features.BackboneSHA256, f.Backbone.Name, f.Backbone.SHA256)
		}
		if f.Backbone.Preprocess != features.Preprocess {
			return fmt.Errorf("the features were preprocessed as %q, the model's as %q", features.Preprocess, f.Backbone.Preprocess)
		}
	}
	return nil
}

// Columns are the feature columns the model reads, by name. nil for a model
// trained on a CSV before models recorded names: its columns can only be
// taken by position, as then.
func (f *File) Columns() []string {
	switch {
	case len(f.FeatureColumns) > 0:
		return f.FeatureColumns
	case f.Backbone.SHA256 == "":
		return nil
	}
	return featstore.ColumnNames(f.Backbone.Dim)
}

// OpenFeatures opens a feature file for this model: exactly the model's
// columns, by name, whatever order the file has them in (other columns are
// not read), and checked against the model's backbone. note says what could
// not be checked, or is "".
func (f *File) OpenFeatures(path string, c dataset.Columns) (src dataset.Features, note string, err error) {
	c.Want = f.Columns()
	src, err = dataset.OpenFeatures(path, c)
	if err != nil {
		return nil, "", err
	}
	if err := f.Check(src.Meta()); err != nil {
		src.Close()
		return nil, "", fmt.Errorf("%s does not fit the model: %w", path, err)
	}
	return src, f.UncheckedFor(src.Meta(), src.CSV()), nil
}

// UncheckedFor is Unchecked that also covers a Parquet file written by
// another tool (DuckDB, pandas): it records no backbone, so the model's
// cannot be checked against it.
func (f *File) UncheckedFor(features featstore.Meta, fromCSV bool) string {
	if note := f.Unchecked(fromCSV); note != "" || fromCSV {
		return note
	}
	if features.BackboneSHA256 == "" && f.Backbone.SHA256 != "" {
		return fmt.Sprintf("the features record no backbone (a Parquet file not written by featurize): columns matched by position f0..f%d, but the backbone (%s) could not be checked",
			features.Dim-1, f.Backbone.Name)
	}
	return ""
}

// Unchecked says, for features from a CSV or a model trained on one, that
// only the column names tie them to the model: no backbone is recorded on
// that side.
func (f *File) Unchecked(featuresFromCSV bool) string {
	switch {
	case f.Backbone.SHA256 != "" && featuresFromCSV:
		return fmt.Sprintf("the features come from a CSV: columns matched by name, but the backbone (%s) could not be checked", f.Backbone.Name)
	case f.Backbone.SHA256 == "" && !featuresFromCSV:
		return "the model was trained on a CSV: columns matched by name, but the backbone could not be checked"
	}
	return ""
}

// Predict returns the class probabilities of each row of X (n x K).
func (f *File) Predict(X mat.Matrix) *mat.Dense {
	return f.Model.PredictBatch(X, nil)
}

// Rows converts a probability matrix to row slices.
func Rows(P *mat.Dense) [][]float64 {
	n, _ := P.Dims()
	out := make([][]float64, n)
	for i := range out {
		out[i] = P.RawRowView(i)
	}
	return out
}
