package sim

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"strconv"

	"github.com/winnowml/winnow/internal/metrics"
)

// WriteRounds writes one CSV row per strategy, repeat and round:
// strategy,repeat,round,n_train,n_queried,accuracy,log_loss,macro_auc,auc_<class>...
func (res *Result) WriteRounds(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := []string{"strategy", "repeat", "round", "n_train", "n_queried", "accuracy", "log_loss", "macro_auc"}
	for _, c := range res.Classes {
		head = append(head, "auc_"+c)
	}
	cw.Write(head)
	for _, p := range res.Points {
		rec := []string{p.Strategy, strconv.Itoa(p.Repeat), strconv.Itoa(p.Round), strconv.Itoa(p.NTrain), strconv.Itoa(p.NQueried),
			num(p.Report.Accuracy), num(p.Report.LogLoss), num(p.Report.MacroAUC)}
		for _, c := range res.Classes {
			rec = append(rec, num(p.Report.AUC[c]))
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "NA"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// Summary is summary.json.
type Summary struct {
	Classes  []string                  `json:"classes"`
	NTest    int                       `json:"n_test"`
	NInitial int                       `json:"n_initial"`
	NPool    int                       `json:"n_pool"`
	Batch    int                       `json:"batch"`
	Rounds   int                       `json:"rounds"`
	Repeats  int                       `json:"repeats"`
	Seed     uint64                    `json:"seed"`
	L1       float64                   `json:"l1"`
	L2       float64                   `json:"l2"`
	Backbone string                    `json:"backbone,omitempty"`
	Final    map[string]FinalScores    `json:"final"`
	Full     FinalScores               `json:"full"`
	PValues  map[string]map[string]any `json:"p_values"`
	LabelsTo map[string]map[string]int `json:"labels_to_target"`
	Notes    []string                  `json:"notes,omitempty"`
	Exhaust  map[string]int            `json:"pool_exhausted_at_round,omitempty"`
	Seconds  float64                   `json:"seconds"`
}

// FinalScores are a model's headline numbers (means over replays for
// random). Undefined values are null.
type FinalScores struct {
	NTrain   float64 `json:"n_train"`
	Accuracy any     `json:"accuracy"`
	LogLoss  any     `json:"log_loss"`
	MacroAUC any     `json:"macro_auc"`
}

func jsonNum(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

// Summary condenses the result for summary.json.
func (res *Result) Summary() Summary {
	s := Summary{Classes: res.Classes, NTest: res.NTest, NInitial: res.NInitial, NPool: res.NPool, Batch: res.Config.Batch,
		Rounds: res.Config.Rounds, Repeats: res.Config.Repeats, Seed: res.Config.Seed, L1: res.Config.Params.L1, L2: res.Config.Params.L2,
		Backbone: res.Meta.Backbone, Final: map[string]FinalScores{}, PValues: map[string]map[string]any{}, LabelsTo: res.LabelsToTarget,
		Notes: res.Notes, Exhaust: res.Exhausted, Seconds: res.Seconds}
	for _, c := range res.Curves() {
		last := len(c.NTrain) - 1
		s.Final[c.Strategy] = FinalScores{NTrain: c.NTrain[last], Accuracy: jsonNum(c.Mean["accuracy"][last]),
			LogLoss: jsonNum(c.Mean["log_loss"][last]), MacroAUC: jsonNum(c.Mean["macro_auc"][last])}
	}
	s.Full = scores(res.Full.Report, float64(res.Full.NTrain))
	for strat, ps := range res.PValues {
		s.PValues[strat] = map[string]any{}
		for m, v := range ps {
			s.PValues[strat][m] = jsonNum(v)
		}
	}
	return s
}

func scores(r metrics.Report, n float64) FinalScores {
	return FinalScores{NTrain: n, Accuracy: jsonNum(r.Accuracy), LogLoss: jsonNum(r.LogLoss), MacroAUC: jsonNum(r.MacroAUC)}
}

// WriteSummary writes summary.json.
func (res *Result) WriteSummary(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(res.Summary())
}
