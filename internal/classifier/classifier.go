// Package classifier is the trained model as winnow saves it: the linear
// model, the class names, and the identity of the backbone whose features it
// was trained on, so it is never applied to features of another kind.
package classifier

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/linear"
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
}

// File is a saved model.
type File struct {
	Format   string        `json:"format"`
	Winnow   string        `json:"winnow_version"`
	Created  time.Time     `json:"created"`
	Backbone Backbone      `json:"backbone"`
	Model    *linear.Model `json:"model"`
	Training Training      `json:"training"`
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
	m := f.Model
	if m == nil || m.K() < 2 || len(m.Classes) != m.K() || len(m.W) != m.K() || m.D() != f.Backbone.Dim {
		return nil, fmt.Errorf("%s: inconsistent model (classes, weights and dimension disagree)", path)
	}
	for _, row := range m.W {
		if len(row) != m.D() {
			return nil, fmt.Errorf("%s: inconsistent model (weight rows of different lengths)", path)
		}
	}
	return &f, nil
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
