package metrics

import (
	"encoding/json"
	"math"
)

// Report is the evaluation of a classifier on labelled cases, as printed by
// `winnow evaluate` and written with --json. Per-class maps are keyed by
// class name; Confusion.Classes keeps the class order.
//
// Undefined values are NaN in Go and null in JSON: the AUC of a class with
// no cases (or with every case), MacroAUC when no class has an AUC, and
// Accuracy and LogLoss of an empty report.
type Report struct {
	N         int
	Accuracy  float64
	LogLoss   float64 // natural log, see LogLoss
	AUC       map[string]float64
	MacroAUC  float64 // mean of the defined per-class AUCs
	Precision map[string]float64
	Recall    map[string]float64
	F1        map[string]float64
	// Macro averages are unweighted means over the classes that have cases
	// in the labels, like MacroAUC: a class absent from the test labels has
	// no recall to speak of, and counting it as 0 would mark perfect
	// predictions down (0.90 with one class of ten absent). NaN when no
	// class has cases.
	MacroPrecision float64
	MacroRecall    float64
	MacroF1        float64
	// Absent lists the model's classes without cases, in class order: left
	// out of the macro averages.
	Absent    []string
	Confusion Confusion
}

// Evaluate scores probs against the true labels y. The predicted class of a
// row is its Argmax. It panics on inputs that Check rejects for their shape;
// call Check first on data that came from a user.
func Evaluate(classes []string, y []int, probs [][]float64) Report {
	mustSameLen(y, probs)
	k := len(classes)
	for i, row := range probs {
		if len(row) != k {
			panic("metrics: probability row length differs from the number of classes")
		}
		if y[i] < 0 || y[i] >= k {
			panic("metrics: label outside the classes")
		}
	}
	r := Report{
		N:         len(y),
		Accuracy:  Accuracy(y, probs),
		LogLoss:   LogLoss(y, probs),
		AUC:       make(map[string]float64, k),
		Precision: make(map[string]float64, k),
		Recall:    make(map[string]float64, k),
		F1:        make(map[string]float64, k),
		Confusion: NewConfusion(classes, y, Predict(probs)),
	}
	aucSum, aucN := 0.0, 0
	present := 0
	for j := range classes {
		if r.Confusion.Support(j) > 0 {
			present++
		}
	}
	for j, name := range classes {
		a := AUC(OneVsRest(y, probs, j))
		r.AUC[name] = a
		if !math.IsNaN(a) {
			aucSum += a
			aucN++
		}
		r.Precision[name] = r.Confusion.Precision(j)
		r.Recall[name] = r.Confusion.Recall(j)
		r.F1[name] = r.Confusion.F1(j)
		if r.Confusion.Support(j) == 0 {
			r.Absent = append(r.Absent, name)
			continue
		}
		r.MacroPrecision += r.Precision[name]
		r.MacroRecall += r.Recall[name]
		r.MacroF1 += r.F1[name]
	}
	// Sum first, divide once: a mean of ones is then exactly one.
	r.MacroPrecision /= float64(present)
	r.MacroRecall /= float64(present)
	r.MacroF1 /= float64(present) // 0/0 = NaN when no class has cases
	r.MacroAUC = math.NaN()
	if aucN > 0 {
		r.MacroAUC = aucSum / float64(aucN)
	}
	return r
}

// reportJSON is Report's wire form. Floats are pointers because JSON has no
// NaN: nil marshals as null.
type reportJSON struct {
	N              int                 `json:"n"`
	Accuracy       *float64            `json:"accuracy"`
	LogLoss        *float64            `json:"log_loss"`
	AUC            map[string]*float64 `json:"auc"`
	MacroAUC       *float64            `json:"macro_auc"`
	Precision      map[string]*float64 `json:"precision"`
	Recall         map[string]*float64 `json:"recall"`
	F1             map[string]*float64 `json:"f1"`
	MacroPrecision *float64            `json:"macro_precision"`
	MacroRecall    *float64            `json:"macro_recall"`
	MacroF1        *float64            `json:"macro_f1"`
	Absent         []string            `json:"absent_classes,omitempty"`
	Confusion      Confusion           `json:"confusion"`
}

// MarshalJSON writes the report in the shape documented for `winnow
// evaluate --json`, with null for undefined (NaN or infinite) values.
func (r Report) MarshalJSON() ([]byte, error) {
	return json.Marshal(reportJSON{
		N:              r.N,
		Accuracy:       toJSON(r.Accuracy),
		LogLoss:        toJSON(r.LogLoss),
		AUC:            mapToJSON(r.AUC),
		MacroAUC:       toJSON(r.MacroAUC),
		Precision:      mapToJSON(r.Precision),
		Recall:         mapToJSON(r.Recall),
		F1:             mapToJSON(r.F1),
		MacroPrecision: toJSON(r.MacroPrecision),
		MacroRecall:    toJSON(r.MacroRecall),
		MacroF1:        toJSON(r.MacroF1),
		Absent:         r.Absent,
		Confusion:      r.Confusion,
	})
}

// UnmarshalJSON reads what MarshalJSON writes, null becoming NaN, so that
// saved reports (simulate keeps one per round) can be read back.
func (r *Report) UnmarshalJSON(b []byte) error {
	var w reportJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Report{
		N:              w.N,
		Accuracy:       fromJSON(w.Accuracy),
		LogLoss:        fromJSON(w.LogLoss),
		AUC:            mapFromJSON(w.AUC),
		MacroAUC:       fromJSON(w.MacroAUC),
		Precision:      mapFromJSON(w.Precision),
		Recall:         mapFromJSON(w.Recall),
		F1:             mapFromJSON(w.F1),
		MacroPrecision: fromJSON(w.MacroPrecision),
		MacroRecall:    fromJSON(w.MacroRecall),
		MacroF1:        fromJSON(w.MacroF1),
		Absent:         w.Absent,
		Confusion:      w.Confusion,
	}
	return nil
}

func toJSON(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func fromJSON(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func mapToJSON(m map[string]float64) map[string]*float64 {
	out := make(map[string]*float64, len(m))
	for k, v := range m {
		out[k] = toJSON(v)
	}
	return out
}

func mapFromJSON(m map[string]*float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = fromJSON(v)
	}
	return out
}
