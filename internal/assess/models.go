package assess

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/metrics"
	"github.com/winnowml/winnow/internal/outfile"
	"github.com/winnowml/winnow/internal/project"
)

// Model is one model of the workshop's test.
type Model struct {
	Name string `json:"name"`
	// Kind is "participant", "consensus" (Dawid-Skene, as Close round
	// decides), "majority", "initial" (the initial training set alone) or
	// "truth" (true labels given with --truth).
	Kind string `json:"kind"`
	Rank int    `json:"rank"` // 1 = best test accuracy; 0 when not ranked
	// Rows is the training rows; Added those beyond the initial set.
	Rows      int              `json:"rows"`
	Added     int              `json:"added"`
	TestItems int              `json:"test_items"`
	Accuracy  Value            `json:"accuracy"`
	MacroAUC  Value            `json:"macro_auc"`
	AUC       map[string]Value `json:"auc"`
	Why       string           `json:"undefined,omitempty"`
	// RowsFile is the training CSV written to Options.RowsDir.
	RowsFile string `json:"rows_file,omitempty"`
	// participant is 1 + the participant's index, 0 for other models.
	participant int
}

// workshop trains the models: the initial training set (gold practice
// items and imported labels, as the model of round 0) plus, in turn, each
// participant's labels, the consensus, majority vote and the true labels.
func workshop(ctx context.Context, p *project.Project, rep *Report, items []labelstore.Item, votes []labelstore.Vote, pIndex map[int64]int, opt Options) error {
	cfg := p.Config()
	dir, err := os.MkdirTemp("", "winnow-assess-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rowsDir := dir
	if opt.RowsDir != "" {
		rowsDir = opt.RowsDir
		if err := os.MkdirAll(rowsDir, 0o755); err != nil {
			return err
		}
	}
	// The initial training set is exactly what trains with no answers at
	// all: labelstore.Consensus over no votes.
	var initial [][2]string
	inInitial := map[labelstore.ItemID]bool{}
	isTest := map[labelstore.ItemID]bool{}
	byID := map[labelstore.ItemID]labelstore.Item{}
	for _, it := range items {
		byID[it.ID] = it
		if it.Role == labelstore.RoleTest {
			isTest[it.ID] = true
		}
	}
	for _, d := range labelstore.Consensus(items, nil, cfg.TrainFlagged) {
		if d.Status == labelstore.Labelled && d.Item.Role != labelstore.RoleTest {
			initial = append(initial, [2]string{d.Item.Path, d.Label})
			inInitial[d.Item.ID] = true
		}
	}
	// A participant's labels: their class answers in effect on items not
	// already known and not test items; "bad example" answers only when
	// the project trains them, as in the consensus.
	perP := make([][][2]string, len(rep.Participants))
	for _, v := range votes {
		if v.Class == "" || inInitial[v.ItemID] || isTest[v.ItemID] || (v.Bad && !cfg.TrainFlagged) {
			continue
		}
		pi := pIndex[v.ParticipantID]
		perP[pi] = append(perP[pi], [2]string{byID[v.ItemID].Path, v.Class})
	}
	// The consensus as Close round would decide it, but over every answer
	// in effect (the open round's too).
	ds, _ := labelstore.ConsensusDS(items, votes, cfg.ClassNames(), cfg.TrainFlagged, labelstore.DSMinParticipants)
	maj := labelstore.Consensus(items, votes, cfg.TrainFlagged)
	added := func(dec []labelstore.Decision) [][2]string {
		var out [][2]string
		for _, d := range dec {
			if d.Status == labelstore.Labelled && d.Item.Role != labelstore.RoleTest && !inInitial[d.Item.ID] {
				out = append(out, [2]string{d.Item.Path, d.Label})
			}
		}
		return out
	}
	type job struct {
		name, kind, file string
		extra            [][2]string
		pi               int
	}
	var jobs []job
	for i, pa := range rep.Participants {
		if pa.N == 0 {
			continue // their model would be the initial set's, ranked as theirs
		}
		jobs = append(jobs, job{pa.Name, "participant", fmt.Sprintf("participant-%d.csv", pa.ID), perP[i], i})
	}
	jobs = append(jobs,
		job{"Dawid-Skene consensus", "consensus", "consensus.csv", added(ds), -1},
		job{"majority vote", "majority", "majority.csv", added(maj), -1},
		job{"initial set only", "initial", "initial.csv", nil, -1})
	if truth := rep.Truth; truth != nil {
		var extra [][2]string
		seen := map[labelstore.ItemID]bool{}
		for _, v := range votes {
			if seen[v.ItemID] || inInitial[v.ItemID] || isTest[v.ItemID] {
				continue
			}
			seen[v.ItemID] = true
			if lab := truth.labels[byID[v.ItemID].Path]; lab != "" {
				extra = append(extra, [2]string{byID[v.ItemID].Path, lab})
			}
		}
		sort.Slice(extra, func(a, b int) bool { return extra[a][0] < extra[b][0] })
		jobs = append(jobs, job{"true labels", "truth", "truth.csv", extra, -1})
	}
	test, err := testRows(ctx, p)
	if err != nil {
		return err
	}
	testFile := filepath.Join(rowsDir, "test.csv")
	if err := writeRows(testFile, test); err != nil {
		return err
	}
	for _, j := range jobs {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows := append(append([][2]string{}, initial...), j.extra...)
		file := filepath.Join(rowsDir, j.file)
		if err := writeRows(file, rows); err != nil {
			return err
		}
		m, err := FitAndTest(ctx, p, file, testFile, len(test))
		if err != nil {
			return fmt.Errorf("model of %s: %w", j.name, err)
		}
		m.Name, m.Kind, m.Added, m.participant = j.name, j.kind, len(j.extra), j.pi+1
		if opt.RowsDir != "" {
			m.RowsFile = file
		}
		rep.Models = append(rep.Models, m)
	}
	rank(rep)
	return nil
}

// rank orders the models by test accuracy, best first (undefined last),
// and numbers them; equal accuracies share a rank, as a test set cannot
// tell them apart (two participants' models often tie on a few labels).
func rank(rep *Report) {
	rankByValue(rep.Models, func(m *Model) (Value, *int) { return m.Accuracy, &m.Rank })
	for _, m := range rep.Models {
		if m.participant > 0 {
			mm := m
			rep.Participants[m.participant-1].Model = &mm
		}
	}
}

// rankByValue sorts xs best first by the value of each (undefined last)
// and numbers them in the rank it gives: equal values share a rank, an
// undefined one gets none.
func rankByValue[T any](xs []T, of func(*T) (Value, *int)) {
	sort.SliceStable(xs, func(a, b int) bool {
		x, _ := of(&xs[a])
		y, _ := of(&xs[b])
		if x.OK != y.OK {
			return x.OK
		}
		return x.OK && x.V > y.V
	})
	for i := range xs {
		v, r := of(&xs[i])
		switch {
		case !v.OK:
		default:
			*r = i + 1
			if i > 0 {
				if pv, pr := of(&xs[i-1]); pv == v {
					*r = *pr
				}
			}
		}
	}
}

// testRows are the gold test items, as a round close evaluates on.
func testRows(ctx context.Context, p *project.Project) ([][2]string, error) {
	tests, err := p.Store().TestItems(ctx)
	if err != nil {
		return nil, err
	}
	var rows [][2]string
	for _, it := range tests {
		rows = append(rows, [2]string{it.Path, it.Gold})
	}
	return rows, nil
}

// FitAndTest trains on the labels CSV exactly as a round close does
// (dataset.LoadContext over the project's features with the classes that
// have rows, linear.Fit with the project's penalties) and scores the model
// on the test CSV's rows of classes it learnt with metrics.Evaluate.
func FitAndTest(ctx context.Context, p *project.Project, labels, test string, nTest int) (Model, error) {
	cfg := p.Config()
	m := Model{AUC: map[string]Value{}}
	features := filepath.Join(p.Dir(), filepath.FromSlash(project.FeaturesFile))
	lab, err := dataset.ReadLabels(labels, "label")
	if err != nil {
		return m, err
	}
	m.Rows = len(lab.Order)
	per := map[string]int{}
	for _, l := range lab.ByPath {
		per[l]++
	}
	var present []string
	for _, c := range cfg.ClassNames() {
		if per[c] > 0 {
			present = append(present, c)
		}
	}
	notDefined := func(why string) Model {
		m.Why = why
		m.Accuracy, m.MacroAUC = undefined("%s", why), undefined("%s", why)
		for _, c := range cfg.ClassNames() {
			m.AUC[c] = undefined("%s", why)
		}
		return m
	}
	if len(present) < 2 {
		return notDefined(fmt.Sprintf("not trained: %d rows in %d classes; training needs two classes with rows", m.Rows, len(present))), nil
	}
	set, err := dataset.LoadContext(ctx, features, labels, dataset.Options{Classes: present})
	if err != nil {
		return m, err
	}
	if err := set.CheckTrainable(); err != nil {
		return notDefined("not trained: " + err.Error()), nil
	}
	lm, err := linear.Fit(set.X, set.Y, len(set.Classes), linear.Params{L1: cfg.L1, L2: cfg.L2}, nil)
	if err != nil {
		return m, err
	}
	lm.Classes = set.Classes
	file := &classifier.File{Backbone: classifier.BackboneOf(set.Meta), Model: lm}
	if nTest == 0 {
		return notDefined("no gold test items (import some with winnow import-labels --gold)"), nil
	}
	tset, err := dataset.LoadContext(ctx, features, test, dataset.Options{Classes: lm.Classes})
	if err != nil {
		return m, fmt.Errorf("test set: %w", err)
	}
	if len(tset.Y) == 0 {
		return notDefined("no test item of a class the model learnt"), nil
	}
	probs := classifier.Rows(file.Predict(tset.X))
	r := metrics.Evaluate(tset.Classes, tset.Y, probs)
	m.TestItems = r.N
	m.Accuracy = num(r.Accuracy, "no test item")
	m.MacroAUC = num(r.MacroAUC, "no class has both test items of it and of others")
	learnt := map[string]bool{}
	for _, c := range lm.Classes {
		learnt[c] = true
	}
	for _, c := range cfg.ClassNames() {
		switch a, ok := r.AUC[c]; {
		case !learnt[c]:
			m.AUC[c] = undefined("no training label of this class: the model never learnt it")
		case !ok:
			m.AUC[c] = undefined("no test item of this class")
		default:
			m.AUC[c] = num(a, "no test item of this class")
		}
	}
	return m, nil
}

func writeRows(name string, rows [][2]string) error {
	return outfile.Write(name, func(w io.Writer) error { return dataset.WriteLabels(w, rows) })
}
