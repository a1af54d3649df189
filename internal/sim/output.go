package sim

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"strconv"
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

// Summary is summary.json. Undefined values are null.
type Summary struct {
	Classes  []string `json:"classes"`
	NTest    int      `json:"n_test"`
	NInitial int      `json:"n_initial"`
	NPool    int      `json:"n_pool"`
	Batch    int      `json:"batch"`
	Rounds   int      `json:"rounds"`
	Repeats  int      `json:"repeats"`
	// FixedSplits: --test and --initial were both given, so the
	// deterministic strategies ran once and each of their results is paired
	// with every draw of the others.
	FixedSplits bool                    `json:"fixed_splits"`
	Replays     map[string]int          `json:"replays"`
	Seed        uint64                  `json:"seed"`
	L1          float64                 `json:"l1"`
	L2          float64                 `json:"l2"`
	Backbone    string                  `json:"backbone,omitempty"`
	Curves      map[string]SummaryCurve `json:"curves"`
	Final       map[string]FinalScores  `json:"final"`
	Full        FinalScores             `json:"full"`
	// VsRandom: strategy -> metric -> "final" / "aulc" -> paired difference.
	VsRandom   map[string]map[string]map[string]PairedJSON `json:"vs_random"`
	PairedTest string                                      `json:"paired_test"`
	// PValues repeats vs_random's final-round p-values, metric by metric.
	PValues      map[string]map[string]any        `json:"p_values"`
	LabelsTo     map[string]map[string]TargetJSON `json:"labels_to_target"`
	Fits         map[string]int                   `json:"fits"`
	NotConverged map[string]int                   `json:"not_converged"`
	Notes        []string                         `json:"notes,omitempty"`
	Exhaust      map[string]int                   `json:"pool_exhausted_at_round,omitempty"`
	Workers      int                              `json:"workers"`
	Seconds      float64                          `json:"seconds"`
}

// SummaryCurve is a learning curve: per round, labels asked (the x axis),
// rows trained, and per metric the mean and 90% band over the replays.
type SummaryCurve struct {
	Labels  []float64                   `json:"labels_asked"`
	NTrain  []float64                   `json:"n_train"`
	Metrics map[string]map[string][]any `json:"metrics"` // metric -> mean/lo/hi -> per round
}

// FinalScores are a model's headline numbers (means over replays). Undefined
// values are null.
type FinalScores struct {
	Labels   float64 `json:"labels_asked"`
	NTrain   float64 `json:"n_train"`
	Accuracy any     `json:"accuracy"`
	LogLoss  any     `json:"log_loss"`
	MacroAUC any     `json:"macro_auc"`
}

// PairedJSON is a paired comparison; mean_diff is strategy minus random, p
// is null when no draw had the metric defined on both sides.
type PairedJSON struct {
	N        int  `json:"n"`
	MeanDiff any  `json:"mean_diff"`
	P        any  `json:"p"`
	Exact    bool `json:"exact"`
}

// TargetJSON is labels-to-target; null labels mean "not reached" (by most
// replays, for the median).
type TargetJSON struct {
	Median       any `json:"labels_median"`
	Lo           any `json:"labels_lo"`
	Hi           any `json:"labels_hi"`
	NTrainMedian any `json:"n_train_median"`
	Reached      int `json:"reached"`
	Replays      int `json:"replays"`
}

func jsonNum(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

func jsonNums(v []float64) []any {
	out := make([]any, len(v))
	for i, x := range v {
		out[i] = jsonNum(x)
	}
	return out
}

// Summary condenses the result for summary.json.
func (res *Result) Summary() Summary {
	s := Summary{Classes: res.Classes, NTest: res.NTest, NInitial: res.NInitial, NPool: res.NPool, Batch: res.Config.Batch,
		Rounds: res.Config.Rounds, Repeats: res.Config.Repeats, FixedSplits: res.Fixed, Replays: map[string]int{},
		Seed: res.Config.Seed, L1: res.Config.Params.L1, L2: res.Config.Params.L2, Backbone: res.Meta.Backbone,
		Curves: map[string]SummaryCurve{}, Final: map[string]FinalScores{}, VsRandom: map[string]map[string]map[string]PairedJSON{},
		PairedTest: res.PairedTest, PValues: map[string]map[string]any{}, LabelsTo: map[string]map[string]TargetJSON{},
		Fits: res.Fits, NotConverged: res.NotConverged, Notes: res.Notes, Exhaust: res.Exhausted, Workers: res.Workers, Seconds: res.Seconds}
	for _, c := range res.Curves {
		s.Replays[c.Strategy] = c.Replays
		last := len(c.NTrain) - 1
		s.Final[c.Strategy] = FinalScores{Labels: c.NAsked[last], NTrain: c.NTrain[last], Accuracy: jsonNum(c.Mean["accuracy"][last]),
			LogLoss: jsonNum(c.Mean["log_loss"][last]), MacroAUC: jsonNum(c.Mean["macro_auc"][last])}
		sc := SummaryCurve{Labels: c.NAsked, NTrain: c.NTrain, Metrics: map[string]map[string][]any{}}
		for _, m := range Metrics {
			sc.Metrics[m] = map[string][]any{"mean": jsonNums(c.Mean[m]), "lo": jsonNums(c.Lo[m]), "hi": jsonNums(c.Hi[m])}
		}
		s.Curves[c.Strategy] = sc
	}
	s.Full = scores(res.Full)
	for strat, cmp := range res.Comparisons {
		s.VsRandom[strat] = map[string]map[string]PairedJSON{}
		s.PValues[strat] = map[string]any{}
		for _, m := range Metrics {
			s.VsRandom[strat][m] = map[string]PairedJSON{"final": pairedJSON(cmp.Final[m]), "aulc": pairedJSON(cmp.AULC[m])}
			s.PValues[strat][m] = jsonNum(cmp.Final[m].P)
		}
	}
	for strat, ts := range res.LabelsToTarget {
		s.LabelsTo[strat] = map[string]TargetJSON{}
		for name, t := range ts {
			s.LabelsTo[strat][name] = TargetJSON{Median: jsonNum(t.Median), Lo: jsonNum(t.Lo), Hi: jsonNum(t.Hi),
				NTrainMedian: jsonNum(t.NTrainMedian), Reached: t.Reached, Replays: t.Replays}
		}
	}
	return s
}

func pairedJSON(p Paired) PairedJSON {
	return PairedJSON{N: p.N, MeanDiff: jsonNum(p.MeanDiff), P: jsonNum(p.P), Exact: p.Exact}
}

func scores(p Point) FinalScores {
	r := p.Report
	return FinalScores{Labels: float64(p.NAsked), NTrain: float64(p.NTrain), Accuracy: jsonNum(r.Accuracy), LogLoss: jsonNum(r.LogLoss), MacroAUC: jsonNum(r.MacroAUC)}
}

// WriteSummary writes summary.json.
func (res *Result) WriteSummary(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(res.Summary())
}
