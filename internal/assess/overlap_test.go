package assess

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/winnowml/winnow/internal/labelstore"
)

// twoRaters is the scenario: one round, two participants answering
// the same 4 items, one honest, one pressing the same key (the first class)
// for every item. Both practise on every practice item and end with all of
// them right; the presser's first attempts are the key too when
// pressInPractice, else right at once.
func twoRaters(t *testing.T, practice int, pressInPractice bool) *world {
	t.Helper()
	w := newWorld(t, 4, practice, 8, 0)
	ctx := context.Background()
	st := w.p.Store()
	prac, _ := st.PracticeItems(ctx)
	for _, name := range []string{"honest", "presser"} {
		sess, err := st.NewSession(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range prac {
			first := it.Gold
			if name == "presser" && pressInPractice {
				first = classes[0]
			}
			answers := []string{first}
			if first != it.Gold { // shown the right answer, they give it
				answers = append(answers, it.Gold)
			}
			for _, c := range answers {
				if _, err := st.Record(ctx, labelstore.Answer{SessionID: sess.ID, ItemID: it.ID, Kind: labelstore.KindPractice, Class: c}); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, id := range w.round.Picks {
			c := w.truth[id]
			if name == "presser" {
				c = classes[0]
			}
			if _, err := st.Record(ctx, labelstore.Answer{SessionID: sess.ID, ItemID: id, RoundID: w.round.ID, Kind: labelstore.KindLabel, Class: c}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return w
}

func ranked(t *testing.T, rep *Report, name string) Ranked {
	t.Helper()
	for _, r := range rep.Ranking {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("%s is not in the ranking %+v", name, rep.Ranking)
	return Ranked{}
}

// TestTwoRatersFourItems: the case, 8 practice items each. The
// code before ranked the presser at Dawid-Skene accuracy 0.98 and the
// honest labeller at 0.25 without a word; 8 items of known class and no
// item a third participant could settle are too few to estimate either.
func TestTwoRatersFourItems(t *testing.T) {
	w := twoRaters(t, 8, false)
	// Someone who only practised: in the table, never in the ranking.
	st := w.p.Store()
	lurker, _ := st.NewSession(context.Background(), "lurker")
	prac, _ := st.PracticeItems(context.Background())
	st.Record(context.Background(), labelstore.Answer{SessionID: lurker.ID, ItemID: prac[0].ID, Kind: labelstore.KindPractice, Class: prac[0].Gold})

	rep, err := Run(context.Background(), w.p, Options{Models: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Ranking) != 2 {
		t.Fatalf("ranking %+v: want the two who labelled", rep.Ranking)
	}
	for _, name := range []string{"honest", "presser"} {
		pa, r := byName(t, rep, name), ranked(t, rep, name)
		if pa.DSAccuracy.OK || !strings.HasPrefix(pa.DSAccuracy.Why, TooFew) || r.Rank != 0 || r.DSAccuracy.OK || !strings.HasPrefix(r.Why, TooFew) {
			t.Errorf("%s: DS accuracy %+v, ranked %+v: want %q, unranked", name, pa.DSAccuracy, r, TooFew)
		}
		if acc := rep.Consensus.LabellerAccuracy[name]; acc.OK {
			t.Errorf("%s: labeller accuracy %+v in the consensus", name, acc)
		}
		// Practice beside it: both perfect at the first attempt.
		if !r.PracticeFirst.OK || r.PracticeFirst.V != 1 || pa.KnownN != 8 || pa.SharedN != 4 || pa.Evidence != 8 {
			t.Errorf("%s: practice %+v, %d known, %d shared, evidence %d", name, r.PracticeFirst, pa.KnownN, pa.SharedN, pa.Evidence)
		}
		// 4 items in common: kappas too few as well.
		if pa.KappaConsensus.OK || pa.AgreementConsensus.OK {
			t.Errorf("%s: kappa vs consensus %+v, agreement %+v over 4 items", name, pa.KappaConsensus, pa.AgreementConsensus)
		}
	}
	if len(rep.Pairwise) != 3 {
		t.Fatalf("pairs %+v", rep.Pairwise)
	}
	for _, pr := range rep.Pairwise {
		if pr.Kappa.OK || (pr.Overlap > 0 && !strings.HasPrefix(pr.Why, TooFew)) {
			t.Errorf("pair %s-%s over %d items: %+v %q", pr.NameA, pr.NameB, pr.Overlap, pr.Kappa, pr.Why)
		}
	}
	if rep.Fleiss.OK || !strings.HasPrefix(rep.FleissWhy, TooFew) {
		t.Errorf("Fleiss over 4 items: %+v %q", rep.Fleiss, rep.FleissWhy)
	}
	lk := byName(t, rep, "lurker")
	if lk.DSAccuracy.OK || lk.Model != nil || lk.ModelAccuracy.OK || !strings.Contains(lk.ModelAccuracy.Why, "no label answer") {
		t.Errorf("lurker: DS %+v, model %+v %+v", lk.DSAccuracy, lk.Model, lk.ModelAccuracy)
	}
	for _, m := range rep.Models {
		if m.Name == "lurker" {
			t.Errorf("lurker's model is ranked: %+v", m)
		}
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "fewer than 3 participants") {
		t.Errorf("no note on two raters: %q", rep.Notes)
	}
	data, _ := json.Marshal(rep)
	var j struct {
		Participants []map[string]any `json:"participants"`
		Ranking      []map[string]any `json:"ranking"`
	}
	json.Unmarshal(data, &j)
	for _, p := range j.Participants[:2] {
		why, _ := p["undefined"].(map[string]any)
		if v, ok := p["ds_accuracy"]; !ok || v != nil || !strings.HasPrefix(why["ds_accuracy"].(string), TooFew) {
			t.Errorf("JSON participant %v: ds_accuracy %v, why %v", p["name"], v, why["ds_accuracy"])
		}
	}
	if j.Ranking[0]["ds_accuracy"] != nil || !strings.HasPrefix(j.Ranking[0]["undefined"].(string), TooFew) {
		t.Errorf("JSON ranking %v", j.Ranking)
	}
}

// TestPracticeAnswersTeachDawidSkene: the same round, 12 practice items,
// and the presser pressed the key in practice too (then corrected each
// answer to pass). The practice answers are items of known class: with
// them Dawid-Skene sees the presser answer class 0 whatever the class and
// ranks the honest labeller first; practice accuracy stands beside it.
// Before, practice was left out and the presser came first at 0.98.
func TestPracticeAnswersTeachDawidSkene(t *testing.T) {
	w := twoRaters(t, 12, true)
	rep, err := Run(context.Background(), w.p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, p := ranked(t, rep, "honest"), ranked(t, rep, "presser")
	if h.Rank != 1 || p.Rank != 2 || !h.DSAccuracy.OK || !p.DSAccuracy.OK || h.DSAccuracy.V < 0.9 || p.DSAccuracy.V > 0.5 {
		t.Errorf("ranking honest %+v, presser %+v", h, p)
	}
	if rep.Ranking[0].Name != "honest" || h.PracticeFirst.V != 1 || p.PracticeFirst.V != 0.25 || h.Evidence != 12 {
		t.Errorf("ranking %+v", rep.Ranking)
	}
	if rep.Consensus.Practice != 24 {
		t.Errorf("%d practice answers in Dawid-Skene, want 24", rep.Consensus.Practice)
	}
}

// TestTwoRatersPerfectPractice: 12 practice items both right at once,
// then the presser presses the key on the round's 4 items. Only gold can
// say which of two participants is right where they disagree, and the
// gold says both are right: the same estimate, the same rank, and a note
// saying why it cannot tell them apart.
func TestTwoRatersPerfectPractice(t *testing.T) {
	w := twoRaters(t, 12, false)
	rep, err := Run(context.Background(), w.p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, p := ranked(t, rep, "honest"), ranked(t, rep, "presser")
	if !h.DSAccuracy.OK || h.DSAccuracy != p.DSAccuracy || h.Rank != 1 || p.Rank != 1 {
		t.Errorf("honest %+v, presser %+v: want the same estimate and rank", h, p)
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "hidden_gold") {
		t.Errorf("notes %q", rep.Notes)
	}
}

// TestEvidenceThreshold: three participants answer the same pool items
// and no practice. Shared items count once three participants share
// items: MinEvidence-1 of them is too few, MinEvidence is enough.
func TestEvidenceThreshold(t *testing.T) {
	for _, n := range []int{MinEvidence - 1, MinEvidence} {
		w := newWorld(t, n, 4, 8, 0)
		ctx := context.Background()
		st := w.p.Store()
		for _, l := range []labeller{{name: "a", acc: 1}, {name: "b", acc: 1}, {name: "c", acc: 0.5}} {
			sess, _ := st.NewSession(ctx, l.name)
			for _, id := range w.round.Picks {
				st.Record(ctx, labelstore.Answer{SessionID: sess.ID, ItemID: id, RoundID: w.round.ID, Kind: labelstore.KindLabel, Class: w.answer(l, w.truth[id])})
			}
		}
		rep, err := Run(ctx, w.p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, pa := range rep.Participants {
			if pa.Evidence != n || pa.DSAccuracy.OK != (n >= MinEvidence) || pa.KappaConsensus.OK != (n >= MinEvidence) {
				t.Errorf("%d shared items: %s evidence %d, DS %+v, kappa %+v", n, pa.Name, pa.Evidence, pa.DSAccuracy, pa.KappaConsensus)
			}
		}
		if rep.Pairwise[0].Kappa.OK != (n >= MinEvidence) || rep.Fleiss.OK != (n >= MinEvidence) {
			t.Errorf("%d shared items: pair %+v, Fleiss %+v", n, rep.Pairwise[0], rep.Fleiss)
		}
	}
}

// TestLoneLabeller: one participant, right on 9 of 12 practice items at
// the first attempt, labels 20 items nobody else answers. Items answered
// by one labeller alone do not identify their confusion matrix (EM drifts
// towards a flat one: the code before said 0.48 here, whatever the
// practice); the estimate comes from the items of known class.
func TestLoneLabeller(t *testing.T) {
	w := newWorld(t, 20, 12, 8, 0)
	ctx := context.Background()
	st := w.p.Store()
	sess, _ := st.NewSession(ctx, "solo")
	prac, _ := st.PracticeItems(ctx)
	for i, it := range prac {
		first := it.Gold
		if i%4 == 3 {
			first = w.answer(labeller{adverse: true}, it.Gold)
		}
		st.Record(ctx, labelstore.Answer{SessionID: sess.ID, ItemID: it.ID, Kind: labelstore.KindPractice, Class: first})
	}
	for _, id := range w.round.Picks {
		st.Record(ctx, labelstore.Answer{SessionID: sess.ID, ItemID: id, RoundID: w.round.ID, Kind: labelstore.KindLabel, Class: w.answer(labeller{acc: 0.5}, w.truth[id])})
	}
	rep, err := Run(ctx, w.p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pa := byName(t, rep, "solo")
	if !pa.DSAccuracy.OK || math.Abs(pa.DSAccuracy.V-0.75) > 0.05 || pa.Evidence != 12 || pa.DSRank != 1 || pa.PracticeFirst.V != 0.75 {
		t.Errorf("solo: DS accuracy %+v over %d items, rank %d; practice first %+v", pa.DSAccuracy, pa.Evidence, pa.DSRank, pa.PracticeFirst)
	}
}
