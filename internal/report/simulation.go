package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot/vg"

	"github.com/winnowml/winnow/internal/metrics"
	"github.com/winnowml/winnow/internal/sim"
)

type simRoundRow struct {
	Round                       int
	NAsked, NTrain              string
	Accuracy, LogLoss, MacroAUC float64
	Band                        string // 90% accuracy band over replays, when there are several
	VsRandom                    string // paired accuracy difference from random: mean (90% band)
}

type simStrategy struct {
	Name     string
	Replays  int
	Rows     []simRoundRow
	VsRandom bool
}

// simPairedRow is one strategy against random, paired by draw.
type simPairedRow struct {
	Strategy string
	N        int
	Cells    []simPairedCell // final accuracy, accuracy AULC, final macro AUC, final log loss
}

type simPairedCell struct{ Diff, P string }

type simTargetRow struct {
	Strategy string
	Cells    []simTargetCell // 95%, 99%
}

type simTargetCell struct{ Labels, Trained, Reached string }

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
	Paired      []simPairedRow
	PairedTest  string
	Draws       int
	Fixed       bool
	Once        string // deterministic strategies that ran once (fixed splits)
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
// curves against labels asked (random with its band), every strategy's
// paired difference from random by round, the per-round table of every
// strategy, paired sign-flip p-values against random, labels needed to
// approach the full model, ROC curves per class across rounds, confusion matrices (initial,
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
	curves := res.Curves
	page.Draws = cfg.Repeats
	page.Fixed = res.Fixed
	page.PairedTest = res.PairedTest
	var once []string
	page.Cards = append(page.Cards, card{"full model", fmtFloat(res.Full.Report.Accuracy, 3),
		fmt.Sprintf("accuracy with all %d usable pool labels%s", res.Full.NTrain, map[bool]string{true: " (repeat 0)"}[cfg.Test == "" && cfg.Repeats > 1])})
	for _, c := range curves {
		last := len(c.NTrain) - 1
		hint := fmt.Sprintf("final accuracy, %s labels asked", fmtCount(c.NAsked[last]))
		if c.Replays > 1 {
			hint += fmt.Sprintf(", mean of %d draws", c.Replays)
		} else if res.Fixed && sim.Deterministic(c.Strategy) {
			once = append(once, c.Strategy)
		}
		page.Cards = append(page.Cards, card{c.Strategy, fmtFloat(c.Mean["accuracy"][last], 3), hint})
	}
	page.Once = strings.Join(once, ", ")

	for _, m := range []struct{ key, label string }{{"accuracy", "accuracy"}, {"macro_auc", "macro AUC"}, {"log_loss", "log loss"}} {
		var series []Series
		for _, c := range curves {
			s := Series{Name: c.Strategy, X: c.NAsked, Y: c.Mean[m.key]}
			// One band (random's) keeps seven curves readable; the paired
			// chart below gives every strategy's spread where it matters.
			if c.Replays > 1 && c.Strategy == sim.Random {
				s.Lo, s.Hi = c.Lo[m.key], c.Hi[m.key]
			}
			series = append(series, s)
		}
		full := res.Full.Report
		v := sim.Value(full, m.key)
		if !math.IsNaN(v) && len(curves) > 0 {
			xs := curves[0].NAsked
			series = append(series, Series{Name: "full model", X: []float64{xs[0], xs[len(xs)-1]}, Y: []float64{v, v}})
		}
		p, err := LineChart("test "+m.label+" by labels asked", "labels asked (initial set + queried, NA included)", m.label, series)
		if err != nil {
			return err
		}
		s, err := SVG(p, 520, 340)
		if err != nil {
			return err
		}
		page.Curves = append(page.Curves, s)
	}
	diff := pairedDiffSeries(res, "accuracy")
	diffOf := map[string]Series{}
	for _, d := range diff {
		diffOf[d.Name] = d
	}
	if len(diff) > 0 {
		// Means only: six overlapping bands hide each other; the
		// round-by-round tables give each strategy's band.
		lines := make([]Series, len(diff))
		for i, d := range diff {
			lines[i] = Series{Name: d.Name, X: d.X, Y: d.Y}
		}
		p, err := LineChart("accuracy minus random's, same draw", "labels asked (initial set + queried, NA included)", "accuracy difference", lines)
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
			row := simRoundRow{Round: i, NAsked: fmtCount(c.NAsked[i]), NTrain: fmtCount(c.NTrain[i]),
				Accuracy: c.Mean["accuracy"][i], LogLoss: c.Mean["log_loss"][i], MacroAUC: c.Mean["macro_auc"][i]}
			if c.Replays > 1 {
				row.Band = fmtFloat(c.Lo["accuracy"][i], 3) + "–" + fmtFloat(c.Hi["accuracy"][i], 3)
			}
			if d, ok := diffOf[c.Strategy]; ok && i < len(d.Y) {
				st.VsRandom = true
				row.VsRandom = fmt.Sprintf("%s (%s to %s)", signed(d.Y[i]), signed(d.Lo[i]), signed(d.Hi[i]))
			}
			st.Rows = append(st.Rows, row)
		}
		page.Strategies = append(page.Strategies, st)

		if cmp, ok := res.Comparisons[c.Strategy]; ok {
			row := simPairedRow{Strategy: c.Strategy, N: cmp.Final["accuracy"].N}
			for _, pc := range []sim.Paired{cmp.Final["accuracy"], cmp.AULC["accuracy"], cmp.Final["macro_auc"], cmp.Final["log_loss"]} {
				row.Cells = append(row.Cells, simPairedCell{Diff: signed(pc.MeanDiff), P: fmtP(pc)})
			}
			page.Paired = append(page.Paired, row)
		}
		t := res.LabelsToTarget[c.Strategy]
		tr := simTargetRow{Strategy: c.Strategy}
		for _, name := range []string{"95%", "99%"} {
			tr.Cells = append(tr.Cells, targetCell(t[name]))
		}
		page.Targets = append(page.Targets, tr)
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
		var nums []int
		var cs [][]metrics.Point
		var aucs []float64
		for _, p := range rounds {
			if p.ROC == nil || p.ROC[k] == nil {
				continue
			}
			nums = append(nums, p.Round)
			cs = append(cs, p.ROC[k])
			aucs = append(aucs, p.Report.AUC[class])
		}
		var full []metrics.Point
		fullAUC := math.NaN()
		if res.FullROC != nil && res.FullROC[k] != nil {
			full, fullAUC = res.FullROC[k], res.Full.Report.AUC[class]
		}
		if len(cs) == 0 && full == nil {
			continue
		}
		p, err := ROCRoundsPlot(class, nums, cs, aucs, full, fullAUC)
		if err != nil {
			return err
		}
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
					l = "no label" // the template adds the parentheses
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

// pairedDiffSeries is, per strategy other than random, the mean and 90%
// band over draws of (strategy's metric - random's metric on the same draw)
// round by round. A strategy that ran once (fixed splits) is paired with
// every draw of random.
func pairedDiffSeries(res *sim.Result, metric string) []Series {
	type key struct {
		s      string
		rep, r int
	}
	val := map[key]float64{}
	asked := map[int][]float64{}
	for _, p := range res.Points {
		val[key{p.Strategy, p.Repeat, p.Round}] = sim.Value(p.Report, metric)
		if p.Strategy == sim.Random {
			asked[p.Round] = append(asked[p.Round], float64(p.NAsked))
		}
	}
	if len(asked) == 0 {
		return nil
	}
	var out []Series
	for _, c := range res.Curves {
		if c.Strategy == sim.Random {
			continue
		}
		s := Series{Name: c.Strategy}
		for r := 0; r < len(c.NAsked); r++ {
			var d []float64
			for rep := 0; rep < res.Config.Repeats; rep++ {
				rv, ok := val[key{sim.Random, rep, r}]
				if !ok {
					continue
				}
				own, ok := val[key{c.Strategy, rep, r}]
				if !ok && res.Fixed {
					own, ok = val[key{c.Strategy, 0, r}]
				}
				if ok && !math.IsNaN(own) && !math.IsNaN(rv) {
					d = append(d, own-rv)
				}
			}
			if len(d) == 0 {
				break
			}
			sum := 0.0
			for _, v := range d {
				sum += v
			}
			s.X = append(s.X, c.NAsked[r])
			s.Y = append(s.Y, sum/float64(len(d)))
			s.Lo = append(s.Lo, sim.Quantile(d, sim.BandLo))
			s.Hi = append(s.Hi, sim.Quantile(d, sim.BandHi))
		}
		if len(s.X) > 0 {
			out = append(out, s)
		}
	}
	if len(out) > 0 {
		xs := out[0].X
		out = append(out, Series{Name: "random (0)", X: []float64{xs[0], xs[len(xs)-1]}, Y: []float64{0, 0}})
	}
	return out
}

func signed(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// fmtP gives the p-value, or why there is none.
func fmtP(p sim.Paired) string {
	if p.N == 0 || math.IsNaN(p.P) {
		return "undefined"
	}
	if p.P < 0.001 {
		return strconv.FormatFloat(p.P, 'g', 2, 64)
	}
	return strconv.FormatFloat(p.P, 'f', 3, 64)
}

func targetCell(t sim.Target) simTargetCell {
	labels := func(v float64) string {
		if math.IsInf(v, 1) || math.IsNaN(v) {
			return "not reached"
		}
		return fmtCount(v)
	}
	c := simTargetCell{Labels: labels(t.Median), Reached: fmt.Sprintf("%d of %d", t.Reached, t.Replays)}
	if t.Replays > 1 && t.Reached > 0 {
		c.Labels += " (" + labels(t.Lo) + "–" + labels(t.Hi) + ")"
	}
	if !math.IsNaN(t.NTrainMedian) {
		c.Trained = fmtCount(t.NTrainMedian)
	}
	return c
}
