// Package assess measures a project's participants: how much and how well
// each labels (practice, hidden and other gold, agreement with the
// consensus, speed), how far they agree with each other, the Dawid-Skene
// consensus and its most contested items, and the reference workshop's
// test: a model per participant, trained on the initial training set plus
// that participant's labels and scored on the gold test items.
//
// Every statistic is a Value: a number, or not defined with the reason
// (no overlap, a single participant, a class nobody used, ...), never NaN.
// The kappas and the consensus are internal/agreement's; the models are
// trained and scored with the same functions as a round close.
package assess

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/winnowml/winnow/internal/agreement"
	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/project"
)

// Value is a statistic that may be undefined; JSON writes it as a number
// or null.
type Value struct {
	V   float64
	OK  bool
	Why string
}

// MarshalJSON writes the number, or null when not defined.
func (v Value) MarshalJSON() ([]byte, error) {
	if !v.OK {
		return []byte("null"), nil
	}
	return json.Marshal(v.V)
}

func defined(v float64) Value { return Value{V: v, OK: true} }

func undefined(format string, args ...any) Value {
	return Value{Why: fmt.Sprintf(format, args...)}
}

// num turns a float that may be NaN or infinite into a Value.
func num(v float64, why string) Value {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Value{Why: why}
	}
	return defined(v)
}

func fromStat(s agreement.Stat) Value { return Value{V: s.Value, OK: s.OK, Why: s.Why} }

// share is k/n, undefined with why when n is 0.
func share(k, n int, why string) Value {
	if n == 0 {
		return Value{Why: why}
	}
	return defined(float64(k) / float64(n))
}

// Participant is one participant's account.
type Participant struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// N counts the items labelled: answers in effect that are a class or
	// "none of these" (skips are not labels).
	N       int `json:"n"`
	Answers int `json:"answers"` // label answers in effect, skips included
	// Practice accuracy on the first attempt at each practice item and on
	// the answers in effect now.
	PracticeItems int   `json:"practice_items"`
	PracticeFirst Value `json:"practice_first_accuracy"`
	PracticeFinal Value `json:"practice_final_accuracy"`
	// Gold met while labelling: hidden gold, and any other gold item in a
	// round or an import.
	GoldN        int   `json:"gold_n"`
	GoldAccuracy Value `json:"gold_accuracy"`
	// Against the Dawid-Skene consensus, over the items someone else also
	// answered or that are gold (on an item only this participant answered,
	// the consensus is their own answer).
	ConsensusN         int   `json:"consensus_n"`
	AgreementConsensus Value `json:"agreement_with_consensus"`
	KappaConsensus     Value `json:"kappa_vs_consensus"`
	// Confusion[t][a]: gold class t (Report.Classes), answer a
	// (Report.Options: the classes then "none").
	Confusion     [][]int `json:"confusion_vs_gold"`
	BadRate       Value   `json:"bad_example_rate"`
	SkipRate      Value   `json:"skip_rate"`
	MedianSeconds Value   `json:"median_seconds_per_answer"`
	// The participant's model (the workshop's test), nil when models were
	// not trained.
	Model         *Model `json:"model,omitempty"`
	ModelAccuracy Value  `json:"model_accuracy"`
	// Why lists why each undefined statistic is not defined.
	Why map[string]string `json:"undefined,omitempty"`
}

// RoundKappa is Fleiss' kappa over one round's answers.
type RoundKappa struct {
	Round int    `json:"round"` // 0: imported answers
	Label string `json:"label"`
	Items int    `json:"items"` // items with two or more answers
	Kappa Value  `json:"kappa"`
	Why   string `json:"undefined,omitempty"`
}

// Pair is Cohen's kappa between two participants.
type Pair struct {
	A, B    int    `json:"-"` // indices into Participants
	NameA   string `json:"a"`
	NameB   string `json:"b"`
	Overlap int    `json:"overlap"`
	Kappa   Value  `json:"kappa"`
	Why     string `json:"undefined,omitempty"`
}

// ItemVotes is an item with its answers and consensus.
type ItemVotes struct {
	ID       int64          `json:"id"`
	Path     string         `json:"path"`
	Gold     string         `json:"gold,omitempty"`
	Votes    map[string]int `json:"votes"`
	Majority string         `json:"majority"` // "" for a tie
	DS       string         `json:"dawid_skene"`
	// Posterior is the Dawid-Skene probability of each option.
	Posterior map[string]float64 `json:"posterior"`
	Top       float64            `json:"top_posterior"`
}

// Consensus is the Dawid-Skene consensus over every answer in effect.
type Consensus struct {
	Method     string `json:"method"`
	Items      int    `json:"items"`      // items with a vote
	Gold       int    `json:"gold_items"` // of which gold (clamped)
	Iterations int    `json:"iterations"`
	Converged  bool   `json:"converged"`
	// DifferFromMajority counts the non-gold items where Dawid-Skene and
	// majority vote disagree (a majority tie counts as disagreeing).
	DifferFromMajority int         `json:"differ_from_majority"`
	Differ             []ItemVotes `json:"differ"`
	// Contested are the non-gold items with two or more votes whose
	// consensus is least certain (lowest top posterior).
	Contested []ItemVotes `json:"contested"`
	// Posterior is every voted item's consensus.
	Posterior []ItemVotes `json:"items_posterior"`
	// LabellerAccuracy is each participant's estimated probability of
	// answering the true class (the diagonal of their Dawid-Skene
	// confusion matrix, weighted by the class prior).
	LabellerAccuracy map[string]float64 `json:"labeller_accuracy"`
}

// Report is the whole assessment.
type Report struct {
	Title        string        `json:"title"`
	Created      time.Time     `json:"created"`
	Classes      []string      `json:"classes"`
	Options      []string      `json:"options"`
	HiddenGold   float64       `json:"hidden_gold"`
	Participants []Participant `json:"participants"`
	Fleiss       Value         `json:"fleiss_kappa"`
	FleissWhy    string        `json:"fleiss_kappa_undefined,omitempty"`
	FleissRounds []RoundKappa  `json:"fleiss_kappa_rounds"`
	Pairwise     []Pair        `json:"pairwise_kappa"`
	Consensus    Consensus     `json:"consensus"`
	// Models are the workshop's test, ranked by test accuracy: one per
	// participant, then the consensus, majority vote, the initial training
	// set alone, and the true labels when given.
	Models []Model  `json:"models"`
	Notes  []string `json:"notes"`
}

// Options tune Run.
type Options struct {
	// Models trains the workshop's models (seconds each); without it the
	// statistics alone are computed.
	Models bool
	// Truth is an optional CSV (path,label) of true labels for items the
	// participants labelled, for a reference model.
	Truth string
	// RowsDir, when set, receives each model's training rows and the test
	// rows as CSV (to rerun them with winnow train and evaluate).
	RowsDir string
}

// MaxGap is the longest pause between two answers still counted as time
// spent on the second: a longer one is a break.
const MaxGap = 5 * time.Minute

// Run assesses the project.
func Run(ctx context.Context, p *project.Project, opt Options) (*Report, error) {
	st := p.Store()
	cfg := p.Config()
	classes := cfg.ClassNames()
	items, err := st.Items(ctx)
	if err != nil {
		return nil, err
	}
	hist, err := st.AllAnswers(ctx)
	if err != nil {
		return nil, err
	}
	rounds, err := st.Rounds(ctx)
	if err != nil {
		return nil, err
	}
	roundNumber := map[int64]int{}
	for _, r := range rounds {
		roundNumber[r.ID] = r.Number
	}
	byID := map[labelstore.ItemID]labelstore.Item{}
	for _, it := range items {
		byID[it.ID] = it
	}
	rep := &Report{Title: cfg.Title, Created: time.Now().UTC(), Classes: classes, Participants: []Participant{}, Models: []Model{},
		Options: append(append([]string{}, classes...), labelstore.NoneOption), HiddenGold: cfg.Label.HiddenGold, Notes: []string{}}
	optIndex := map[string]int{}
	for i, o := range rep.Options {
		optIndex[o] = i
	}

	// Participants in order of first appearance; votes in effect, one per
	// participant and item (the newest, as labelstore.Votes).
	pIndex := map[int64]int{}
	participant := func(r labelstore.AnswerRow) *Participant {
		i, ok := pIndex[r.ParticipantID]
		if !ok {
			i = len(rep.Participants)
			pIndex[r.ParticipantID] = i
			name := r.Participant
			if name == "" {
				name = fmt.Sprintf("anonymous #%d", r.ParticipantID)
			}
			rep.Participants = append(rep.Participants, Participant{ID: r.ParticipantID, Name: name, Why: map[string]string{}})
		}
		return &rep.Participants[i]
	}
	type pk struct {
		p    int64
		item labelstore.ItemID
	}
	voteAt := map[pk]int{}
	var votes []labelstore.Vote
	firstPractice := map[pk]labelstore.AnswerRow{}
	finalPractice := map[pk]labelstore.AnswerRow{}
	siteTimes := map[int64][]time.Time{} // per session: label answers on the site
	sessionOwner := map[int64]int64{}
	for _, r := range hist {
		participant(r)
		k := pk{r.ParticipantID, r.ItemID}
		switch r.Kind {
		case labelstore.KindPractice:
			if _, ok := firstPractice[k]; !ok && !r.Undone {
				firstPractice[k] = r
			}
			if !r.Undone && !r.Superseded {
				finalPractice[k] = r
			}
		case labelstore.KindLabel:
			if r.RoundID != 0 {
				siteTimes[r.SessionID] = append(siteTimes[r.SessionID], r.At)
				sessionOwner[r.SessionID] = r.ParticipantID
			}
			if r.Undone || r.Superseded {
				continue
			}
			v := labelstore.Vote{Answer: r.Answer, ParticipantID: r.ParticipantID}
			if i, ok := voteAt[k]; ok {
				votes[i] = v
			} else {
				voteAt[k] = len(votes)
				votes = append(votes, v)
			}
		}
	}
	if len(rep.Participants) == 0 {
		rep.Notes = append(rep.Notes, "no participant has answered yet: nothing to assess")
	}

	// Practice.
	for k, first := range firstPractice {
		it := byID[k.item]
		if it.Gold == "" {
			continue
		}
		pa := &rep.Participants[pIndex[k.p]]
		pa.PracticeItems++
		if first.Class == it.Gold {
			pa.PracticeFirst.V++
		}
		if fin, ok := finalPractice[k]; ok && fin.Class == it.Gold {
			pa.PracticeFinal.V++
		}
	}
	for i := range rep.Participants {
		pa := &rep.Participants[i]
		pa.PracticeFirst = share(int(pa.PracticeFirst.V), pa.PracticeItems, "no practice answer")
		pa.PracticeFinal = share(int(pa.PracticeFinal.V), pa.PracticeItems, "no practice answer")
	}

	// Consensus: Dawid-Skene over every vote in effect, gold clamped.
	est := labelstore.EstimateDS(items, votes, classes)
	counts := make([][]int, len(est.Items))
	for i := range counts {
		counts[i] = make([]int, len(rep.Options))
	}
	voters := make([]int, len(est.Items))
	for _, v := range votes {
		if o := optionOf(v.Answer, optIndex); o >= 0 {
			if i, ok := est.Index[v.ItemID]; ok {
				counts[i][o]++
				voters[i]++
			}
		}
	}
	majority := agreement.Majority(counts)
	rep.Consensus = consensusReport(est, counts, majority, byID, rep.Options, func(pid int64) string {
		return rep.Participants[pIndex[pid]].Name
	})

	// Per participant: labels, gold, consensus, confusion, rates.
	type pair struct{ mine, cons int }
	vsCons := make([][]pair, len(rep.Participants))
	for i := range rep.Participants {
		rep.Participants[i].Confusion = make([][]int, len(classes))
		for t := range classes {
			rep.Participants[i].Confusion[t] = make([]int, len(rep.Options))
		}
	}
	goldRight := make([]int, len(rep.Participants))
	bad := make([]int, len(rep.Participants))
	skips := make([]int, len(rep.Participants))
	classAnswers := make([]int, len(rep.Participants))
	for _, v := range votes {
		pi := pIndex[v.ParticipantID]
		pa := &rep.Participants[pi]
		pa.Answers++
		if v.Skip {
			skips[pi]++
			continue
		}
		pa.N++
		o := optionOf(v.Answer, optIndex)
		if v.Class != "" {
			classAnswers[pi]++
			if v.Bad {
				bad[pi]++
			}
		}
		it := byID[v.ItemID]
		if t, ok := optIndex[it.Gold]; ok && it.Gold != "" && o >= 0 {
			pa.GoldN++
			if o == t {
				goldRight[pi]++
			}
			pa.Confusion[t][o]++
		}
		i, ok := est.Index[v.ItemID]
		if !ok || o < 0 {
			continue
		}
		_, gold := est.Gold[i]
		if (voters[i] >= 2 || gold) && est.Result.Labels[i] >= 0 {
			vsCons[pi] = append(vsCons[pi], pair{o, est.Result.Labels[i]})
		}
	}
	for i := range rep.Participants {
		pa := &rep.Participants[i]
		pa.GoldAccuracy = share(goldRight[i], pa.GoldN, "no gold item met while labelling (turn on [label] hidden_gold)")
		pa.BadRate = share(bad[i], classAnswers[i], "no class answered")
		pa.SkipRate = share(skips[i], pa.Answers, "no label answer")
		pa.ConsensusN = len(vsCons[i])
		if pa.ConsensusN == 0 {
			why := "no item this participant labelled was also labelled by someone else or is gold"
			pa.AgreementConsensus, pa.KappaConsensus = Value{Why: why}, Value{Why: why}
		} else {
			a, b := make([]int, pa.ConsensusN), make([]int, pa.ConsensusN)
			agree := 0
			for j, pr := range vsCons[i] {
				a[j], b[j] = pr.mine, pr.cons
				if pr.mine == pr.cons {
					agree++
				}
			}
			pa.AgreementConsensus = share(agree, pa.ConsensusN, "")
			pa.KappaConsensus = fromStat(agreement.CohenKappa(a, b, len(rep.Options)))
		}
		pa.MedianSeconds = undefined("fewer than two answers on the site")
	}
	medianSeconds(rep, siteTimes, sessionOwner, pIndex)

	// Agreement among participants.
	rep.FleissRounds = fleissPerRound(votes, optIndex, roundNumber)
	overall := agreement.FleissKappa(countsOf(votes, optIndex))
	rep.Fleiss, rep.FleissWhy = fromStat(overall), overall.Why
	rep.Pairwise = pairwise(rep.Participants, votes, pIndex, optIndex, len(rep.Options))

	if opt.Models {
		if err := workshop(ctx, p, rep, items, votes, pIndex, opt); err != nil {
			return nil, err
		}
	}
	for i := range rep.Participants {
		pa := &rep.Participants[i]
		if pa.Model != nil {
			pa.ModelAccuracy = pa.Model.Accuracy
		} else if opt.Models {
			pa.ModelAccuracy = undefined("no model")
		} else {
			pa.ModelAccuracy = undefined("models not trained (winnow assess trains them; the page on request)")
		}
		pa.Why = whys(pa)
	}
	return rep, nil
}

// optionOf is an answer's option index: its class, "none", or -1 (a skip,
// or a class no longer in the project).
func optionOf(a labelstore.Answer, optIndex map[string]int) int {
	switch {
	case a.Skip:
		return -1
	case a.None:
		return optIndex[labelstore.NoneOption]
	}
	if o, ok := optIndex[a.Class]; ok && a.Class != labelstore.NoneOption {
		return o
	}
	return -1
}

func medianSeconds(rep *Report, siteTimes map[int64][]time.Time, owner map[int64]int64, pIndex map[int64]int) {
	gaps := map[int][]float64{}
	for sid, ts := range siteTimes {
		pi := pIndex[owner[sid]]
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
		for j := 1; j < len(ts); j++ {
			if d := ts[j].Sub(ts[j-1]); d <= MaxGap {
				gaps[pi] = append(gaps[pi], d.Seconds())
			}
		}
	}
	for pi, g := range gaps {
		if len(g) == 0 {
			continue
		}
		sort.Float64s(g)
		m := g[len(g)/2]
		if len(g)%2 == 0 {
			m = (g[len(g)/2-1] + g[len(g)/2]) / 2
		}
		rep.Participants[pi].MedianSeconds = defined(m)
	}
}

func countsOf(votes []labelstore.Vote, optIndex map[string]int) [][]int {
	idx := map[labelstore.ItemID]int{}
	var out [][]int
	for _, v := range votes {
		o := optionOf(v.Answer, optIndex)
		if o < 0 {
			continue
		}
		i, ok := idx[v.ItemID]
		if !ok {
			i = len(out)
			idx[v.ItemID] = i
			out = append(out, make([]int, len(optIndex)))
		}
		out[i][o]++
	}
	return out
}

func fleissPerRound(votes []labelstore.Vote, optIndex map[string]int, roundNumber map[int64]int) []RoundKappa {
	byRound := map[int64][]labelstore.Vote{}
	for _, v := range votes {
		byRound[v.RoundID] = append(byRound[v.RoundID], v)
	}
	ids := make([]int64, 0, len(byRound))
	for id := range byRound {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return roundNumber[ids[i]] < roundNumber[ids[j]] })
	out := []RoundKappa{}
	for _, id := range ids {
		c := countsOf(byRound[id], optIndex)
		multi := 0
		for _, row := range c {
			n := 0
			for _, x := range row {
				n += x
			}
			if n >= 2 {
				multi++
			}
		}
		rk := RoundKappa{Round: roundNumber[id], Label: fmt.Sprintf("round %d", roundNumber[id]), Items: multi}
		if id == 0 {
			rk.Label = "imported answers"
		}
		s := agreement.FleissKappa(c)
		rk.Kappa, rk.Why = fromStat(s), s.Why
		out = append(out, rk)
	}
	return out
}

func pairwise(ps []Participant, votes []labelstore.Vote, pIndex map[int64]int, optIndex map[string]int, k int) []Pair {
	ans := make([]map[labelstore.ItemID]int, len(ps))
	for i := range ans {
		ans[i] = map[labelstore.ItemID]int{}
	}
	for _, v := range votes {
		if o := optionOf(v.Answer, optIndex); o >= 0 {
			ans[pIndex[v.ParticipantID]][v.ItemID] = o
		}
	}
	out := []Pair{}
	for a := range ps {
		for b := a + 1; b < len(ps); b++ {
			var xa, xb []int
			ids := make([]labelstore.ItemID, 0)
			for id := range ans[a] {
				if _, ok := ans[b][id]; ok {
					ids = append(ids, id)
				}
			}
			slices.Sort(ids)
			for _, id := range ids {
				xa = append(xa, ans[a][id])
				xb = append(xb, ans[b][id])
			}
			s := agreement.CohenKappa(xa, xb, k)
			out = append(out, Pair{A: a, B: b, NameA: ps[a].Name, NameB: ps[b].Name, Overlap: len(ids), Kappa: fromStat(s), Why: s.Why})
		}
	}
	return out
}

// MaxListed bounds the contested and differing items listed.
const MaxListed = 12

func consensusReport(est labelstore.DSEstimate, counts [][]int, majority []int, byID map[labelstore.ItemID]labelstore.Item, options []string, name func(int64) string) Consensus {
	c := Consensus{Method: "dawid-skene", Items: len(est.Items), Gold: len(est.Gold), Iterations: est.Result.Iterations,
		Converged: est.Result.Converged, Differ: []ItemVotes{}, Contested: []ItemVotes{}, Posterior: []ItemVotes{}, LabellerAccuracy: map[string]float64{}}
	if len(est.Items) == 0 {
		c.Method = "none (no answers)"
		return c
	}
	for i, id := range est.Items {
		it := byID[id]
		iv := ItemVotes{ID: int64(id), Path: it.Path, Gold: it.Gold, Votes: map[string]int{}, Posterior: map[string]float64{}}
		n := 0
		for o, x := range counts[i] {
			if x > 0 {
				iv.Votes[options[o]] = x
				n += x
			}
		}
		if majority[i] >= 0 {
			iv.Majority = options[majority[i]]
		}
		if l := est.Result.Labels[i]; l >= 0 {
			iv.DS = options[l]
		}
		for o, pr := range est.Result.Posterior[i] {
			if pr >= 0.005 {
				iv.Posterior[options[o]] = math.Round(pr*1000) / 1000
			}
			iv.Top = max(iv.Top, pr)
		}
		c.Posterior = append(c.Posterior, iv)
		if _, gold := est.Gold[i]; gold {
			continue
		}
		if iv.Majority != iv.DS {
			c.DifferFromMajority++
			c.Differ = append(c.Differ, iv)
		}
		if n >= 2 {
			c.Contested = append(c.Contested, iv)
		}
	}
	sort.SliceStable(c.Contested, func(a, b int) bool { return c.Contested[a].Top < c.Contested[b].Top })
	c.Contested = c.Contested[:min(MaxListed, len(c.Contested))]
	c.Differ = c.Differ[:min(MaxListed, len(c.Differ))]
	for l, pid := range est.Participants {
		acc := 0.0
		for t, pr := range est.Result.Prior {
			acc += pr * est.Result.Confusion[l][t][t]
		}
		c.LabellerAccuracy[name(pid)] = math.Round(acc*1000) / 1000
	}
	return c
}

// whys collects why each undefined statistic of a participant is undefined.
func whys(pa *Participant) map[string]string {
	out := map[string]string{}
	for k, v := range map[string]Value{
		"practice_first_accuracy": pa.PracticeFirst, "practice_final_accuracy": pa.PracticeFinal,
		"gold_accuracy": pa.GoldAccuracy, "agreement_with_consensus": pa.AgreementConsensus,
		"kappa_vs_consensus": pa.KappaConsensus, "bad_example_rate": pa.BadRate, "skip_rate": pa.SkipRate,
		"median_seconds_per_answer": pa.MedianSeconds, "model_accuracy": pa.ModelAccuracy,
	} {
		if !v.OK {
			out[k] = v.Why
		}
	}
	return out
}

// Get returns the value, whether it is defined and why not (report.Maybe).
func (v Value) Get() (float64, bool, string) { return v.V, v.OK, v.Why }
