package classify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/metrics"
)

// Triage is what evaluate reports about settling images by confidence: the
// accuracy-vs-coverage curve of the labelled rows and the cut that reaches
// the target accuracy.
type Triage struct {
	Calibration *classifier.Calibration
	At          metrics.CoveragePoint // the cut's point; zero when !Reached
	Reached     bool
	Curve       []metrics.CoveragePoint
}

// NewTriage measures the triage of labelled rows.
func NewTriage(classes []string, y []int, probs [][]float64, target float64, classTargets map[string]float64) Triage {
	cal, at, ok := Measure(classes, y, probs, target, classTargets)
	return Triage{Calibration: cal, At: at, Reached: ok, Curve: metrics.Coverage(y, probs)}
}

// WriteText prints the cut in evaluate's text output.
func (t Triage) WriteText(w io.Writer) error {
	c := t.Calibration
	var err error
	if t.Reached {
		_, err = fmt.Fprintf(w, "\ntriage: confidence >= %.6g settles %d of %d images (%.1f%%) at accuracy %.4f >= target %g; %d remain for people\n",
			t.At.Threshold, t.At.N, c.Rows, 100*t.At.Coverage, t.At.Accuracy, c.TargetAccuracy, c.Rows-t.At.N)
	} else {
		_, err = fmt.Fprintf(w, "\ntriage: no confidence cut reaches accuracy %g: not even the most confident images are that accurate\n", c.TargetAccuracy)
	}
	for _, name := range slices.Sorted(maps.Keys(c.ClassTargets)) {
		if v := c.ClassThresholds[name]; v != nil {
			fmt.Fprintf(w, "triage: %s: predictions with confidence >= %.6g are right at least %g of the time\n", name, *v, c.ClassTargets[name])
		} else {
			fmt.Fprintf(w, "triage: %s: no cut makes its predictions right %g of the time; none is settled\n", name, c.ClassTargets[name])
		}
	}
	return err
}

// triageJSON is the "triage" member of evaluate --json.
type triageJSON struct {
	TargetAccuracy  float64                 `json:"target_accuracy"`
	Threshold       *float64                `json:"threshold"` // null: no cut reaches the target
	Settled         int                     `json:"settled"`
	Coverage        float64                 `json:"coverage"`
	Accuracy        *float64                `json:"accuracy"`
	ClassTargets    map[string]float64      `json:"class_targets,omitempty"`
	ClassThresholds map[string]*float64     `json:"class_thresholds,omitempty"`
	Curve           []metrics.CoveragePoint `json:"curve"`
}

// ReportJSON is evaluate's --json: the metrics report with a "triage"
// member added at the end (the report's own members keep their order).
func ReportJSON(r metrics.Report, t Triage) ([]byte, error) {
	base, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	c := t.Calibration
	tj := triageJSON{TargetAccuracy: c.TargetAccuracy, Threshold: c.Threshold, Settled: t.At.N, Coverage: t.At.Coverage,
		ClassTargets: c.ClassTargets, ClassThresholds: c.ClassThresholds, Curve: t.Curve}
	if t.Reached {
		a := t.At.Accuracy
		tj.Accuracy = &a
	}
	if tj.Curve == nil {
		tj.Curve = []metrics.CoveragePoint{}
	}
	for _, p := range tj.Curve {
		if math.IsNaN(p.Accuracy) || math.IsNaN(p.Threshold) {
			return nil, fmt.Errorf("triage: a NaN on the coverage curve")
		}
	}
	extra, err := json.Marshal(struct {
		Triage triageJSON `json:"triage"`
	}{tj})
	if err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(base, []byte("}")) || !bytes.HasPrefix(extra, []byte("{")) {
		return nil, fmt.Errorf("triage: unexpected JSON shape")
	}
	joined := append(append(base[:len(base)-1:len(base)-1], ','), extra[1:]...)
	var out bytes.Buffer
	if err := json.Indent(&out, joined, "", " "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
