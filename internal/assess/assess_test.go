package assess

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/project"
)

var classes = []string{"coat", "bag", "shirt", "sandal"}

// world is a project made by hand: features drawn around one mean per
// class (so a model learns the classes from right labels and is misled by
// wrong ones), gold split into practice and test items, and one open round.
type world struct {
	p     *project.Project
	truth map[labelstore.ItemID]string
	round *labelstore.Round
	rng   *rand.Rand
}

func newWorld(t *testing.T, pool, practice, test int, hidden float64) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	images := filepath.Join(dir, "images")
	os.MkdirAll(images, 0o755)
	cfg := project.DefaultConfig()
	cfg.Images = images
	for _, c := range classes {
		cfg.Classes = append(cfg.Classes, project.Class{Name: c})
	}
	cfg.Label.HiddenGold = hidden
	data, err := cfg.Render()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, project.ConfigFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	const dim = 6
	os.MkdirAll(filepath.Join(dir, "features"), 0o755)
	fw, err := featstore.Create(filepath.Join(dir, project.FeaturesFile), featstore.Meta{Backbone: "synthetic", Dim: dim})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{truth: map[labelstore.ItemID]string{}, rng: rng}
	var items []labelstore.Item
	n := pool + practice + test
	for i := range n {
		k := i % len(classes)
		f := make([]float32, dim)
		for j := range f {
			f[j] = float32(rng.NormFloat64())
		}
		f[k] += 2.2 // classes overlap a little: wrong labels cost accuracy
		path := fmt.Sprintf("%s/%04d.png", classes[k], i)
		if err := fw.Write(featstore.Row{Path: path, SHA256: fmt.Sprintf("%064d", i), Width: 28, Height: 28, Features: f}); err != nil {
			t.Fatal(err)
		}
		it := labelstore.Item{Path: path, SHA256: fmt.Sprintf("%064d", i), Role: labelstore.RolePool}
		switch {
		case i >= pool+practice:
			it.Role, it.Gold = labelstore.RoleTest, classes[k]
		case i >= pool:
			it.Role, it.Gold = labelstore.RolePractice, classes[k]
		}
		items = append(items, it)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	// Only init creates a database; this project is made by hand, so it
	// creates its own before opening.
	db, err := labelstore.Open(filepath.Join(dir, project.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	p, err := project.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	st := p.Store()
	if _, err := st.AddItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	var gold []labelstore.Import
	for _, it := range items {
		if it.Gold != "" {
			g, err := st.ItemByPath(ctx, it.Path)
			if err != nil {
				t.Fatal(err)
			}
			gold = append(gold, labelstore.Import{Item: g.ID, Class: it.Gold, Role: it.Role})
		}
	}
	if err := st.Import(ctx, gold); err != nil {
		t.Fatal(err)
	}
	all, _ := st.Items(ctx)
	var picks []labelstore.ItemID
	for _, it := range all {
		w.truth[it.ID] = classes[0]
		for k, c := range classes {
			if strings.HasPrefix(it.Path, c+"/") {
				w.truth[it.ID] = classes[k]
			}
		}
		if it.Role == labelstore.RolePool && len(picks) < pool {
			picks = append(picks, it.ID)
		}
	}
	if w.round, err = st.OpenRound(ctx, picks); err != nil {
		t.Fatal(err)
	}
	w.p = p
	return w
}

// labeller answers the true class with probability acc, otherwise another
// class at random; an adversary always answers the next class.
type labeller struct {
	name    string
	acc     float64
	adverse bool
}

func (w *world) answer(l labeller, truth string) string {
	k := 0
	for i, c := range classes {
		if c == truth {
			k = i
		}
	}
	if l.adverse {
		return classes[(k+1)%len(classes)]
	}
	if w.rng.Float64() < l.acc {
		return truth
	}
	o := w.rng.IntN(len(classes) - 1)
	if o >= k {
		o++
	}
	return classes[o]
}

// labelAll has l practise on the first practice items, then answer its
// whole queue (hidden gold included) through the store, as the site does.
func (w *world) labelAll(t *testing.T, l labeller, practice int) *labelstore.Session {
	t.Helper()
	ctx := context.Background()
	st := w.p.Store()
	sess, err := st.NewSession(ctx, l.name)
	if err != nil {
		t.Fatal(err)
	}
	prac, _ := st.PracticeItems(ctx)
	for _, it := range prac[:practice] {
		first := w.answer(l, it.Gold)
		if _, err := st.Record(ctx, labelstore.Answer{SessionID: sess.ID, ItemID: it.ID, Kind: labelstore.KindPractice, Class: first}); err != nil {
			t.Fatal(err)
		}
		if first != it.Gold { // shown the right answer, they correct it
			if _, err := st.Record(ctx, labelstore.Answer{SessionID: sess.ID, ItemID: it.ID, Kind: labelstore.KindPractice, Class: it.Gold}); err != nil {
				t.Fatal(err)
			}
		}
	}
	q, err := st.Queue(ctx, sess.ID, w.round.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range q {
		if _, err := st.Record(ctx, labelstore.Answer{SessionID: sess.ID, ItemID: e.Item.ID, RoundID: w.round.ID,
			Kind: labelstore.KindLabel, Class: w.answer(l, w.truth[e.Item.ID])}); err != nil {
			t.Fatalf("%s answering %s (role %s): %v", l.name, e.Item.Path, e.Item.Role, err)
		}
	}
	return sess
}

func byName(t *testing.T, rep *Report, name string) Participant {
	t.Helper()
	for _, p := range rep.Participants {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no participant %q in %+v", name, rep.Participants)
	return Participant{}
}

func TestAssessmentRanksPlantedLabellers(t *testing.T) {
	ctx := context.Background()
	const pool, hidden = 160, 0.2
	w := newWorld(t, pool, 120, 120, hidden)
	team := []labeller{{name: "p95", acc: 0.95}, {name: "p80", acc: 0.80}, {name: "p60", acc: 0.60}, {name: "adversary", adverse: true}}
	for _, l := range team {
		w.labelAll(t, l, 4)
	}
	// Hidden gold is in every queue, unannounced: practice items the
	// session has not practised on, about hidden/(1-hidden) of the picks.
	sess, _ := w.p.Store().NewSession(ctx, "probe")
	q, _ := w.p.Store().Queue(ctx, sess.ID, w.round.ID)
	wantHidden := int(math.Round(hidden * pool / (1 - hidden)))
	got := 0
	for _, e := range q {
		if e.Item.Role == labelstore.RolePractice {
			got++
		}
		if e.Item.Role == labelstore.RoleTest {
			t.Fatalf("test item %s in a queue", e.Item.Path)
		}
	}
	if got != wantHidden || len(q) != pool+wantHidden {
		t.Fatalf("queue of %d with %d hidden gold, want %d of %d", len(q), got, wantHidden, pool+wantHidden)
	}

	rep, err := Run(ctx, w.p, Options{Models: true})
	if err != nil {
		t.Fatal(err)
	}
	var prev *Participant
	for _, l := range team {
		pa := byName(t, rep, l.name)
		if pa.N != pool+wantHidden || pa.GoldN != wantHidden {
			t.Errorf("%s: %d labelled, %d gold, want %d and %d", l.name, pa.N, pa.GoldN, pool+wantHidden, wantHidden)
		}
		// Accuracy on hidden gold within three binomial standard errors of
		// the planted one.
		if !pa.GoldAccuracy.OK || math.Abs(pa.GoldAccuracy.V-l.acc) > 3*math.Sqrt(l.acc*(1-l.acc)/float64(pa.GoldN))+0.03 {
			t.Errorf("%s: gold accuracy %+v, planted %.2f", l.name, pa.GoldAccuracy, l.acc)
		}
		if prev != nil {
			if !(pa.GoldAccuracy.V < prev.GoldAccuracy.V && pa.KappaConsensus.V < prev.KappaConsensus.V) {
				t.Errorf("%s (gold %.3f, kappa %.3f) not below %s (gold %.3f, kappa %.3f)", pa.Name, pa.GoldAccuracy.V, pa.KappaConsensus.V,
					prev.Name, prev.GoldAccuracy.V, prev.KappaConsensus.V)
			}
		}
		pp := pa
		prev = &pp
		// Practice: the first attempt is the planted labeller's, the final
		// is corrected.
		if !pa.PracticeFinal.OK || pa.PracticeFinal.V != 1 || pa.PracticeItems != 4 {
			t.Errorf("%s: practice %+v final over %d items, want 1 over 4", l.name, pa.PracticeFinal, pa.PracticeItems)
		}
		if l.adverse && pa.PracticeFirst.V != 0 {
			t.Errorf("adversary: first practice accuracy %v, want 0", pa.PracticeFirst.V)
		}
		// The confusion matrix against gold holds every gold answer.
		sum := 0
		for _, row := range pa.Confusion {
			for _, n := range row {
				sum += n
			}
		}
		if sum != pa.GoldN {
			t.Errorf("%s: confusion holds %d answers, gold %d", l.name, sum, pa.GoldN)
		}
	}
	// Dawid-Skene finds the adversary: its estimated accuracy is near 0,
	// the others' near the planted one.
	for _, l := range team {
		est := rep.Consensus.LabellerAccuracy[l.name]
		if !est.OK || math.Abs(est.V-l.acc) > 0.1 || byName(t, rep, l.name).DSAccuracy != est {
			t.Errorf("Dawid-Skene estimates %s at %+v, planted %.2f", l.name, est, l.acc)
		}
	}
	// And its consensus is right more often than majority vote's.
	var ds, maj, n int
	for _, iv := range rep.Consensus.Posterior {
		if iv.Gold != "" {
			continue
		}
		tr := w.truth[labelstore.ItemID(iv.ID)]
		n++
		if iv.DS == tr {
			ds++
		}
		if iv.Majority == tr {
			maj++
		}
	}
	if n != pool || ds <= maj || float64(ds)/float64(n) < 0.95 {
		t.Errorf("consensus right on %d (Dawid-Skene) and %d (majority) of %d items", ds, maj, n)
	}
	if !rep.Fleiss.OK || len(rep.FleissRounds) != 1 || len(rep.Pairwise) != 6 {
		t.Errorf("Fleiss %+v, rounds %+v, %d pairs", rep.Fleiss, rep.FleissRounds, len(rep.Pairwise))
	}
	// The workshop's test: the adversary's model is last among the
	// participants, the 95% one's first; every model is ranked.
	ranks := map[string]int{}
	acc := map[string]float64{}
	for _, m := range rep.Models {
		if m.Rank == 0 || !m.Accuracy.OK || m.TestItems != 120 {
			t.Fatalf("model %s: rank %d, accuracy %+v on %d test items", m.Name, m.Rank, m.Accuracy, m.TestItems)
		}
		ranks[m.Name], acc[m.Name] = m.Rank, m.Accuracy.V
	}
	if !(acc["p95"] > acc["adversary"]+0.2 && acc["p95"] >= acc["p60"] && ranks["adversary"] == len(rep.Models)) {
		t.Errorf("model accuracies %v, ranks %v", acc, ranks)
	}
	if byName(t, rep, "p95").ModelAccuracy.V != acc["p95"] {
		t.Error("participant's model accuracy differs from its model's")
	}
	// The consensus model uses Dawid-Skene (4 participants answered the
	// round): it decides majority's ties, so it trains on at least as many
	// rows, and the adversary does not drag it down.
	var consAdded, majAdded int
	for _, m := range rep.Models {
		switch m.Kind {
		case "consensus":
			consAdded = m.Added
		case "majority":
			majAdded = m.Added
		}
	}
	if consAdded != pool || majAdded > consAdded || acc["Dawid-Skene consensus"] < acc["adversary"]+0.2 {
		t.Errorf("consensus model: %d rows added (majority %d), accuracy %.3f", consAdded, majAdded, acc["Dawid-Skene consensus"])
	}
	// JSON: the fields, no NaN.
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(data, &generic); err != nil {
		t.Fatal(err)
	}
	ps := generic["participants"].([]any)
	for _, k := range []string{"name", "n", "gold_accuracy", "kappa_vs_consensus", "model_accuracy"} {
		if _, ok := ps[0].(map[string]any)[k]; !ok {
			t.Errorf("participants[0] has no %q", k)
		}
	}
	cons := generic["consensus"].(map[string]any)
	if cons["method"] != "dawid-skene" || len(cons["contested"].([]any)) == 0 {
		t.Errorf("consensus %v", cons["method"])
	}
	var html bytes.Buffer
	if err := HTML(&html, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), "<svg") || !strings.Contains(html.String(), "adversary") || strings.Contains(html.String(), "NaN") {
		t.Error("the HTML has no chart, no adversary, or a NaN")
	}
}

// TestUndefinedStatistics: one participant, an item with one answer, no
// overlap, a class nobody used, no practice: each statistic says why it is
// not defined, and JSON writes null.
func TestUndefinedStatistics(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, 12, 8, 8, 0)
	st := w.p.Store()
	rep, err := Run(ctx, w.p, Options{Models: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Participants) != 0 || rep.Fleiss.OK || rep.Consensus.Method == "dawid-skene" || len(rep.Notes) == 0 {
		t.Fatalf("no answers: %+v", rep)
	}
	// Only the initial training set's models: they train on gold practice.
	if len(rep.Models) != 3 {
		t.Fatalf("models without participants: %+v", rep.Models)
	}

	solo, _ := st.NewSession(ctx, "solo")
	// solo never answers "sandal": their model never learns it.
	for _, id := range w.round.Picks[:6] {
		c := w.truth[id]
		if c == "sandal" {
			c = "coat"
		}
		if _, err := st.Record(ctx, labelstore.Answer{SessionID: solo.ID, ItemID: id, RoundID: w.round.ID, Kind: labelstore.KindLabel, Class: c}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err = Run(ctx, w.p, Options{Models: true})
	if err != nil {
		t.Fatal(err)
	}
	pa := byName(t, rep, "solo")
	for what, v := range map[string]Value{"fleiss": rep.Fleiss, "kappa": pa.KappaConsensus, "gold": pa.GoldAccuracy,
		"practice": pa.PracticeFirst, "seconds": pa.MedianSeconds} {
		if what == "seconds" && v.OK {
			continue // six answers in a row on the site: gaps exist
		}
		if v.OK || v.Why == "" {
			t.Errorf("%s: %+v, want not defined with why", what, v)
		}
	}
	if !strings.Contains(rep.FleissWhy, "two or more answers") || len(rep.Pairwise) != 0 {
		t.Errorf("Fleiss why %q, pairs %v", rep.FleissWhy, rep.Pairwise)
	}
	if pa.Why["kappa_vs_consensus"] == "" || pa.Why["gold_accuracy"] == "" {
		t.Errorf("whys %v", pa.Why)
	}
	// A second participant with no item in common: the pair's kappa is
	// not defined, "no item labelled by both".
	other, _ := st.NewSession(ctx, "other")
	for _, id := range w.round.Picks[6:9] {
		st.Record(ctx, labelstore.Answer{SessionID: other.ID, ItemID: id, RoundID: w.round.ID, Kind: labelstore.KindLabel, Class: w.truth[id]})
	}
	rep, err = Run(ctx, w.p, Options{Models: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Pairwise) != 1 || rep.Pairwise[0].Kappa.OK || !strings.Contains(rep.Pairwise[0].Why, "no item labelled by both") {
		t.Errorf("pairwise without overlap: %+v", rep.Pairwise)
	}
	var soloModel *Model
	for i := range rep.Models {
		if rep.Models[i].Name == "solo" {
			soloModel = &rep.Models[i]
		}
	}
	if soloModel == nil {
		t.Fatal("no model for solo")
	}
	// Gold practice items teach the initial set every class, so solo's
	// model knows sandal from there; the AUC of each class is defined or
	// says why.
	for c, v := range soloModel.AUC {
		if !v.OK && v.Why == "" {
			t.Errorf("AUC %s: undefined without why", c)
		}
	}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("NaN")) || !bytes.Contains(data, []byte(`"gold_accuracy":null`)) {
		t.Errorf("JSON: %s", data[:min(len(data), 400)])
	}
	var html bytes.Buffer
	if err := HTML(&html, rep); err != nil || strings.Contains(html.String(), "NaN") {
		t.Errorf("HTML: %v", err)
	}
}

// TestImportedParticipant: answers from a CSV count as a participant's,
// unknown paths and classes are counted, and the assessment shows them as
// the imported answers' own "round".
func TestImportedParticipant(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, 12, 8, 8, 0)
	items, _ := w.p.Store().Items(ctx)
	var b strings.Builder
	b.WriteString("path,label\n")
	n := 0
	for _, it := range items {
		if it.Role == labelstore.RolePool && n < 5 {
			fmt.Fprintf(&b, "%s,%s\n", it.Path, w.truth[it.ID])
			n++
		}
	}
	b.WriteString("nowhere/1.png,coat\n")
	fmt.Fprintf(&b, "%s,jacket\n", items[len(items)-1].Path)
	file := filepath.Join(t.TempDir(), "offline.csv")
	os.WriteFile(file, []byte(b.String()), 0o644)
	res, err := w.p.ImportParticipant(ctx, file, "", "Offline Olga")
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 5 || res.UnknownPaths != 1 || res.UnknownClasses["jacket"] != 1 {
		t.Fatalf("import: %s", res)
	}
	// Twice under the same name: the same participant.
	if _, err := w.p.ImportParticipant(ctx, file, "", "Offline Olga"); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(ctx, w.p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Participants) != 1 || rep.Participants[0].N != 5 {
		t.Fatalf("participants %+v", rep.Participants)
	}
	if len(rep.FleissRounds) != 1 || rep.FleissRounds[0].Label != "imported answers" {
		t.Errorf("rounds %+v", rep.FleissRounds)
	}
	// Imported answers vote in the consensus Close round would use.
	ds, err := w.p.Consensus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	labelled := 0
	for _, d := range ds {
		if d.Source == "majority" {
			labelled++
		}
	}
	if labelled != 5 {
		t.Errorf("%d items labelled by the imported answers, want 5", labelled)
	}
}
