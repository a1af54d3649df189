package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot/vg"

	"github.com/winnowml/winnow/internal/metrics"
	"github.com/winnowml/winnow/internal/sim"
)

type simRoundRow struct {
	Round                       int
	NTrain, NQueried            string
	Accuracy, LogLoss, MacroAUC float64
	Band                        string // accuracy band over replays, when there are several
}

type simStrategy struct {
	Name    string
	Replays int
	Rows    []simRoundRow
}

type simPValueRow struct {
	Strategy                    string
	Accuracy, LogLoss, MacroAUC float64 // final scores
	PAcc, PAUC, PLogLoss        float64
}

type simTargetRow struct {
	Strategy string
	P95, P99 string
}

type simPicked struct {
	Strategy string
	Rounds   []simPickedRound
}

type simPickedRound struct {
	Round int
	Cases []simCase
}

type simCase struct{ Path, Label string }

type simulationPage struct {
	Title       string
	Subtitle    string
	Cards       []card
	Curves      []template.HTML
	Strategies  []simStrategy
	PValues     []simPValueRow
	Replays     int
	MinP        string
	Targets     []simTargetRow
	FullAcc     float64
	ROCStrategy string
	ROC         []template.HTML
	Confusions  []simFigure
	Picked      []simPicked
	Notes       []string
	Protocol    string
}

type simFigure struct {
	Caption string
	SVG     template.HTML
}

// SimulationHTML writes the self-contained report of a simulation: learning
// curves (random with its band), the per-round table of every strategy,
// Monte Carlo p-values against random, labels needed to approach the full
// model, ROC curves per class across rounds, confusion matrices (initial,
// final, full) and the cases each round picked. labels maps a path to its
// oracle label, for the picked cases.
func SimulationHTML(w io.Writer, title string, res *sim.Result, labels map[string]string) error {
	cfg := res.Config
	page := simulationPage{
		Title: title,
		Subtitle: fmt.Sprintf("%d test cases, %d initially labelled, %d in the pool; batches of %d over %d rounds; %d classes",
			res.NTest, res.NInitial, res.NPool, cfg.Batch, cfg.Rounds, len(res.Classes)),
		FullAcc: res.Full.Report.Accuracy,
		Notes:   res.Notes,
	}
	curves := res.Curves()
	page.Cards = append(page.Cards, card{"full model", fmtFloat(res.Full.Report.Accuracy, 3),
		fmt.Sprintf("accuracy with all %d usable pool labels", res.Full.NTrain)})
	for _, c := range curves {
		last := len(c.NTrain) - 1
		hint := fmt.Sprintf("final accuracy, %s labels", strconv.Itoa(int(math.Round(c.NTrain[last]))))
		if c.Replays > 1 {
			hint += fmt.Sprintf(", mean of %d replays", c.Replays)
		}
		page.Cards = append(page.Cards, card{c.Strategy, fmtFloat(c.Mean["accuracy"][last], 3), hint})
	}

	for _, m := range []struct{ key, label string }{{"accuracy", "accuracy"}, {"macro_auc", "macro AUC"}, {"log_loss", "log loss"}} {
		var series []Series
		for _, c := range curves {
			s := Series{Name: c.Strategy, X: c.NTrain, Y: c.Mean[m.key]}
			if c.Replays > 1 {
				s.Lo, s.Hi = c.Lo[m.key], c.Hi[m.key]
			}
			series = append(series, s)
		}
		full := res.Full.Report
		v := sim.Value(full, m.key)
		if !math.IsNaN(v) && len(curves) > 0 {
			xs := curves[0].NTrain
			series = append(series, Series{Name: "full model", X: []float64{xs[0], xs[len(xs)-1]}, Y: []float64{v, v}})
		}
		p, err := LineChart("test "+m.label+" by labels used", "labelled rows the model was trained on", m.label, series)
		if err != nil {
			return err
		}
		s, err := SVG(p, 520, 340)
		if err != nil {
			return err
		}
		page.Curves = append(page.Curves, s)
	}

	for _, c := range curves {
		st := simStrategy{Name: c.Strategy, Replays: c.Replays}
		for i := range c.NTrain {
			row := simRoundRow{Round: i, NTrain: fmtCount(c.NTrain[i]), NQueried: fmtCount(c.NQueried[i]),
				Accuracy: c.Mean["accuracy"][i], LogLoss: c.Mean["log_loss"][i], MacroAUC: c.Mean["macro_auc"][i]}
			if c.Replays > 1 {
				row.Band = fmtFloat(c.Lo["accuracy"][i], 3) + "–" + fmtFloat(c.Hi["accuracy"][i], 3)
			}
			st.Rows = append(st.Rows, row)
		}
		page.Strategies = append(page.Strategies, st)

		last := len(c.NTrain) - 1
		if ps, ok := res.PValues[c.Strategy]; ok {
			page.PValues = append(page.PValues, simPValueRow{Strategy: c.Strategy, Accuracy: c.Mean["accuracy"][last],
				LogLoss: c.Mean["log_loss"][last], MacroAUC: c.Mean["macro_auc"][last],
				PAcc: ps["accuracy"], PAUC: ps["macro_auc"], PLogLoss: ps["log_loss"]})
		}
		if c.Strategy == sim.Random {
			page.Replays = c.Replays
			page.MinP = fmt.Sprintf("1/%d = %.3f", c.Replays+1, 1/float64(c.Replays+1))
		}
		t := res.LabelsToTarget[c.Strategy]
		page.Targets = append(page.Targets, simTargetRow{Strategy: c.Strategy, P95: target(t, "95%"), P99: target(t, "99%")})
	}

	// ROC across rounds and confusion matrices, for the first strategy
	// that is not random (the one the user is asking about), replay 0.
	focus := ""
	for _, s := range cfg.Strategies {
		if s != sim.Random {
			focus = s
			break
		}
	}
	if focus == "" && len(cfg.Strategies) > 0 {
		focus = cfg.Strategies[0]
	}
	page.ROCStrategy = focus
	var rounds []sim.Point
	for _, p := range res.Points {
		if p.Strategy == focus && p.Repeat == 0 {
			rounds = append(rounds, p)
		}
	}
	for k, class := range res.Classes {
		var names []string
		var cs [][]metrics.Point
		var aucs []float64
		for _, p := range rounds {
			if p.ROC == nil || p.ROC[k] == nil {
				continue
			}
			names = append(names, fmt.Sprintf("round %d", p.Round))
			cs = append(cs, p.ROC[k])
			aucs = append(aucs, p.Report.AUC[class])
		}
		if res.FullROC != nil && res.FullROC[k] != nil {
			names = append(names, "full")
			cs = append(cs, res.FullROC[k])
			aucs = append(aucs, res.Full.Report.AUC[class])
		}
		if len(cs) == 0 {
			continue
		}
		p, err := ROCPlot(names, cs, aucs)
		if err != nil {
			return err
		}
		p.Title.Text = class
		s, err := SVG(p, 340, 340)
		if err != nil {
			return err
		}
		page.ROC = append(page.ROC, s)
	}
	if len(rounds) > 0 {
		k := len(res.Classes)
		side := vg.Points(float64(min(max(34*k+150, 300), 460)))
		for _, f := range []struct {
			caption string
			r       metrics.Report
		}{
			{fmt.Sprintf("initial model (%d labels)", rounds[0].NTrain), rounds[0].Report},
			{fmt.Sprintf("%s, final round (%d labels)", focus, rounds[len(rounds)-1].NTrain), rounds[len(rounds)-1].Report},
			{fmt.Sprintf("full model (%d labels)", res.Full.NTrain), res.Full.Report},
		} {
			p, err := ConfusionHeatmap(f.r.Confusion)
			if err != nil {
				return err
			}
			p.Title.Text = ""
			s, err := SVG(p, side, side)
			if err != nil {
				return err
			}
			page.Confusions = append(page.Confusions, simFigure{Caption: f.caption, SVG: s})
		}
	}

	for _, s := range cfg.Strategies {
		sp := simPicked{Strategy: s}
		for _, p := range res.Points {
			if p.Strategy != s || p.Repeat != 0 || len(p.Picked) == 0 {
				continue
			}
			pr := simPickedRound{Round: p.Round + 1}
			for _, path := range p.Picked {
				l := labels[path]
				if l == "" {
					l = "(no label)"
				}
				pr.Cases = append(pr.Cases, simCase{Path: path, Label: l})
			}
			sp.Rounds = append(sp.Rounds, pr)
		}
		page.Picked = append(page.Picked, sp)
	}

	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, "simulation", page); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err := buf.WriteTo(w)
	return err
}

func fmtCount(v float64) string {
	if v == math.Round(v) {
		return strconv.Itoa(int(v))
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func target(t map[string]int, key string) string {
	if n, ok := t[key]; ok {
		return strconv.Itoa(n)
	}
	return "not reached"
}
