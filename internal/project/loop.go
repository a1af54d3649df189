package project

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/metrics"
	"github.com/winnowml/winnow/internal/plural"
	"github.com/winnowml/winnow/internal/query"
	"github.com/winnowml/winnow/internal/report"
)

// consensus decides every item's training label from gold, imported labels
// and the answers of every round not open: by Dawid-Skene for items of a
// round at least labelstore.DSMinParticipants participants answered,
// majority vote before.
func (p *Project) consensus(ctx context.Context) ([]labelstore.Decision, error) {
	items, err := p.store.Items(ctx)
	if err != nil {
		return nil, err
	}
	votes, err := p.store.Votes(ctx)
	if err != nil {
		return nil, err
	}
	ds, _ := labelstore.ConsensusDS(items, votes, p.cfg.ClassNames(), p.cfg.TrainFlagged, labelstore.DSMinParticipants)
	return ds, nil
}

// Consensus is the consensus CloseRound would use now (over the rounds not
// open and imported answers).
func (p *Project) Consensus(ctx context.Context) ([]labelstore.Decision, error) {
	return p.consensus(ctx)
}

// ConsensusCSV writes the consensus over every item that has a label or an
// answer: path, label (empty unless it trains), source, status, the votes
// per class, none, skips, flagged and the tied answers. Test items are
// listed with source gold but never train.
func (p *Project) ConsensusCSV(ctx context.Context, w io.Writer) error {
	ds, err := p.consensus(ctx)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"path", "label", "source", "status", "role", "votes", "none", "skips", "flagged", "tied"})
	for _, d := range ds {
		if d.Status == labelstore.Unanswered && d.Skips == 0 {
			continue
		}
		flagged := 0
		for _, n := range d.Bad {
			flagged += n
		}
		if err := cw.Write([]string{d.Item.Path, d.Label, d.Source, d.Status, d.Item.Role, formatVotes(d.Votes),
			strconv.Itoa(d.None), strconv.Itoa(d.Skips), strconv.Itoa(flagged), joinTied(d.Tied)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func formatVotes(v map[string]int) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b, _ := json.Marshal(func() []any {
		out := []any{}
		for _, k := range keys {
			out = append(out, []any{k, v[k]})
		}
		return out
	}())
	return string(b)
}

func joinTied(t []string) string {
	b, _ := json.Marshal(t)
	if t == nil {
		return ""
	}
	return string(b)
}

// trained is the outcome of training and evaluating one model.
type trained struct {
	model     *classifier.File // nil when there was too little to train on
	modelRel  string
	rows      int
	labelsRel string
	metrics   *labelstore.RoundMetrics
	notes     []string
	// evalNotes: notes[evalNotes:] are the evaluation's, the rest the
	// training's (one list, as the metrics record both).
	evalNotes int
}

// trainAndEvaluate writes the training labels of round n (0: init), trains
// on them if at least two classes have rows, evaluates the model on the gold
// test items and records the metrics.
func (p *Project) trainAndEvaluate(ctx context.Context, n int, ds []labelstore.Decision, setStage func(string, int)) (*trained, error) {
	t := &trained{labelsRel: labelsRel(n)}
	perClass := map[string]int{}
	var rows [][2]string
	for _, d := range ds {
		if d.Status == labelstore.Labelled && d.Item.Role != labelstore.RoleTest {
			rows = append(rows, [2]string{d.Item.Path, d.Label})
			perClass[d.Label]++
		}
	}
	if err := writeAtomic(p.path(t.labelsRel), func(w io.Writer) error {
		return dataset.WriteLabels(w, rows)
	}); err != nil {
		return nil, err
	}
	var present []string
	for _, c := range p.cfg.ClassNames() {
		if perClass[c] > 0 {
			present = append(present, c)
		}
	}
	if len(present) < 2 {
		t.notes = append(t.notes, fmt.Sprintf("not trained: %s in %s; training needs two classes with labels", plural.N(len(rows), "labelled item"), plural.N(len(present), "class")))
		t.evalNotes = len(t.notes)
		return t, nil
	}
	if len(present) < len(p.cfg.Classes) {
		t.notes = append(t.notes, fmt.Sprintf("trained on the %d of %d classes that have labels", len(present), len(p.cfg.Classes)))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	setStage("train", 2)
	set, err := dataset.LoadContext(ctx, p.path(FeaturesFile), p.path(t.labelsRel), dataset.Options{Classes: present})
	if err != nil {
		return nil, err
	}
	if note := set.Notes.Summary(); note != "" {
		t.notes = append(t.notes, "training labels: "+note)
	}
	if err := set.CheckTrainable(); err != nil {
		return nil, err
	}
	nrows, _ := set.X.Dims()
	m, err := linear.Fit(set.X, set.Y, len(set.Classes), linear.Params{L1: p.cfg.L1, L2: p.cfg.L2}, nil)
	if err != nil {
		return nil, err
	}
	if !m.Summary.Converged {
		t.notes = append(t.notes, fmt.Sprintf("the fit did not converge in %s", plural.N(m.Summary.Iterations, "iteration")))
	}
	m.Classes = set.Classes
	counts := set.Counts()
	per := map[string]int{}
	for k, c := range set.Classes {
		per[c] = counts[k]
	}
	file := &classifier.File{Winnow: Version, Created: time.Now().UTC(), Backbone: classifier.BackboneOf(set.Meta), Model: m,
		Training: classifier.Training{Features: FeaturesFile, Labels: t.labelsRel, Rows: nrows, PerClass: per, Dropped: set.Notes.Summary()}}
	t.modelRel = modelRel(n)
	if err := ensureDir(p.path(ModelsDir)); err != nil {
		return nil, err
	}
	// The labelled rows, so classify, the API and selection can tell
	// images unlike all of them (package novelty).
	if err := file.BuildNovelty(linear.AsMatrix(set.X), set.Y, p.cfg.Seed, 0); err != nil {
		t.notes = append(t.notes, "no novelty reference: "+err.Error())
	}
	if err := classifier.Save(p.path(t.modelRel), file); err != nil {
		return nil, err
	}
	t.model, t.rows = file, nrows
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	setStage("evaluate", 3)
	t.evalNotes = len(t.notes)
	rm, err := p.evaluate(ctx, n, t)
	if err != nil {
		return nil, err
	}
	t.metrics = rm
	return t, nil
}

// evaluate scores the model on the gold test items, writes the HTML report
// and records the metrics (also without test items, so the learning curve
// shows every model).
func (p *Project) evaluate(ctx context.Context, n int, t *trained) (*labelstore.RoundMetrics, error) {
	notes, _ := json.Marshal(t.notes)
	rm := &labelstore.RoundMetrics{Round: n, Labels: t.rows, Model: t.modelRel, Summary: string(notes),
		Accuracy: math.NaN(), LogLoss: math.NaN(), MacroAUC: math.NaN()}
	tests, err := p.store.TestItems(ctx)
	if err != nil {
		return nil, err
	}
	inModel := map[string]bool{}
	for _, c := range t.model.Model.Classes {
		inModel[c] = true
	}
	var rows [][2]string
	for _, it := range tests {
		if inModel[it.Gold] {
			rows = append(rows, [2]string{it.Path, it.Gold})
		}
	}
	if skipped := len(tests) - len(rows); skipped > 0 {
		t.notes = append(t.notes, fmt.Sprintf("not evaluated: %s of classes the model has not learnt", plural.N(skipped, "test item")))
	}
	if len(rows) > 0 {
		testRel := fmt.Sprintf("%s/test-%d.csv", LabelsDir, n)
		if err := writeAtomic(p.path(testRel), func(w io.Writer) error { return dataset.WriteLabels(w, rows) }); err != nil {
			return nil, err
		}
		set, err := dataset.LoadContext(ctx, p.path(FeaturesFile), p.path(testRel), dataset.Options{Classes: t.model.Model.Classes})
		if err != nil {
			return nil, fmt.Errorf("test set: %w", err)
		}
		if err := t.model.Check(set.Meta); err != nil {
			return nil, err
		}
		probs := classifier.Rows(t.model.Predict(set.X))
		r := metrics.Evaluate(set.Classes, set.Y, probs)
		data, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		title := fmt.Sprintf("%s: model of round %d on %s", p.cfg.Title, n, plural.N(r.N, "gold test item"))
		if n == 0 {
			title = fmt.Sprintf("%s: initial model on %s", p.cfg.Title, plural.N(r.N, "gold test item"))
		}
		if err := writeAtomic(p.path(reportRel(n)), func(w io.Writer) error {
			return report.EvaluationHTML(w, title, r, set.Classes, set.Y, probs)
		}); err != nil {
			return nil, err
		}
		rm.TestItems, rm.Accuracy, rm.LogLoss, rm.MacroAUC = r.N, r.Accuracy, r.LogLoss, r.MacroAUC
		rm.Report, rm.ReportHTML = data, reportRel(n)
	} else {
		t.notes = append(t.notes, "no gold test items: the model was not evaluated (import some with winnow import-labels --gold)")
	}
	notes, _ = json.Marshal(t.notes)
	rm.Summary = string(notes)
	if err := p.store.RecordMetrics(ctx, *rm); err != nil {
		return nil, err
	}
	return rm, nil
}

// selectNext picks the batch of round n from the items not yet decided:
// pool items without gold, imported or consensus label and not voted "none
// of these". With a model it runs the project's strategy through
// internal/query; without one (fewer than two classes labelled) it takes a
// random sample by a hash of (seed, round, path). It returns nil when the
// pool is used up.
func (p *Project) selectNext(ctx context.Context, n int, ds []labelstore.Decision, t *trained) ([]labelstore.ItemID, []string, error) {
	var notes []string
	var cands []labelstore.Item
	excluded := map[string]bool{}
	for _, d := range ds {
		it := d.Item
		switch {
		case it.Role != labelstore.RolePool, it.Gold != "", it.Label != "",
			d.Status == labelstore.Labelled, d.Status == labelstore.NoneOfThem:
			excluded[it.Path] = true
		default:
			cands = append(cands, it)
		}
	}
	if len(cands) == 0 {
		return nil, append(notes, "every image is labelled or excluded: no next round"), nil
	}
	byPath := map[string]labelstore.ItemID{}
	for _, it := range cands {
		byPath[it.Path] = it.ID
	}
	out := p.path(picksRel(n))
	if t == nil || t.model == nil {
		picks := randomPicks(cands, p.cfg.Seed, n, p.cfg.Batch)
		notes = append(notes, fmt.Sprintf("no model yet: round %d is a random sample of %d", n, len(picks)))
		if err := writeAtomic(out, func(w io.Writer) error {
			cw := csv.NewWriter(w)
			cw.Write([]string{"path", "rank", "score"})
			for i, it := range picks {
				cw.Write([]string{it.Path, strconv.Itoa(i + 1), "random"})
			}
			cw.Flush()
			return cw.Error()
		}); err != nil {
			return nil, nil, err
		}
		ids := make([]labelstore.ItemID, len(picks))
		for i, it := range picks {
			ids[i] = it.ID
		}
		return ids, notes, nil
	}
	exclRel := fmt.Sprintf("%s/exclude-%d.csv", PicksDir, n)
	paths := make([]string, 0, len(excluded))
	for pth := range excluded {
		paths = append(paths, pth)
	}
	sort.Strings(paths)
	if err := writeAtomic(p.path(exclRel), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"path"})
		for _, pth := range paths {
			cw.Write([]string{pth})
		}
		cw.Flush()
		return cw.Error()
	}); err != nil {
		return nil, nil, err
	}
	var logBuf logLines
	if _, err := query.Run(ctx, query.Config{
		Model: p.path(t.modelRel), Features: p.path(FeaturesFile), Output: out,
		Exclude: []string{p.path(exclRel)}, Labels: p.path(t.labelsRel),
		Strategy: p.cfg.Strategy, N: p.cfg.Batch, NoveltyShare: p.cfg.NoveltyShare,
		Options: query.Options{Seed: p.cfg.Seed + uint64(n), Candidates: 10000, Members: 5},
		Log:     &logBuf,
	}); err != nil {
		return nil, nil, fmt.Errorf("selecting round %d: %w", n, err)
	}
	picked, err := query.ReadPaths(out)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]labelstore.ItemID, 0, len(picked))
	for _, pth := range picked {
		id, ok := byPath[pth]
		if !ok {
			// The features hold a path the database does not (featurized
			// after init): skip it rather than open a round with it.
			notes = append(notes, fmt.Sprintf("picked %s, which is not a registered item: skipped", pth))
			continue
		}
		ids = append(ids, id)
	}
	notes = append(notes, logBuf.lines...)
	return ids, notes, nil
}

func randomPicks(cands []labelstore.Item, seed uint64, round, n int) []labelstore.Item {
	type keyed struct {
		k  uint64
		it labelstore.Item
	}
	ks := make([]keyed, len(cands))
	for i, it := range cands {
		h := sha256.New()
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:8], seed)
		binary.LittleEndian.PutUint64(b[8:], uint64(round))
		h.Write(b[:])
		h.Write([]byte(it.Path))
		ks[i] = keyed{binary.LittleEndian.Uint64(h.Sum(nil)), it}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].k < ks[j].k })
	out := make([]labelstore.Item, 0, min(n, len(ks)))
	for _, k := range ks[:min(n, len(ks))] {
		out = append(out, k.it)
	}
	return out
}

// logLines keeps what query.Run logs, one entry per line.
type logLines struct{ lines []string }

func (l *logLines) Write(b []byte) (int, error) {
	for _, s := range splitLines(string(b)) {
		l.lines = append(l.lines, s)
	}
	return len(b), nil
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
