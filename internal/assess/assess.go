// Package assess measures a project's participants: how much and how well
// each labels (practice, hidden and other gold, agreement with the
// consensus, speed), how far they agree with each other, the Dawid-Skene
// consensus and its most contested items, and the reference workshop's
// test: a model per participant, trained on the initial training set plus
// that participant's labels and scored on the gold test items.
//
// Every statistic is a Value: a number, or not defined with the reason
// (no overlap, a single participant, a class nobody used, ...), never NaN.
// A statistic of agreement resting on fewer than MinEvidence items is not
// defined either: "too few shared answers to estimate" (see MinEvidence).
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

// pk is a participant and an item.
type pk struct {
	p    int64
	item labelstore.ItemID
}

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
	// Dawid-Skene's estimate of how often the participant gives the true
	// class, given when Evidence reaches MinEvidence: KnownN items of
	// known class answered (first practice attempts, gold met while
	// labelling) plus, once MinRaters participants share items, SharedN
	// items of unknown class someone else also answered. DSRank is the
	// place in Report.Ranking (0: not ranked).
	KnownN     int   `json:"known_items"`
	SharedN    int   `json:"shared_items"`
	Evidence   int   `json:"ds_evidence"`
	DSAccuracy Value `json:"ds_accuracy"`
	DSRank     int   `json:"ds_rank"`
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
	Method string `json:"method"`
	Items  int    `json:"items"`      // items with a vote
	Gold   int    `json:"gold_items"` // of which gold (clamped)
	// Practice counts the first practice attempts clamped as items of
	// known class (one per participant and practice item).
	Practice   int  `json:"practice_answers"`
	Iterations int  `json:"iterations"`
	Converged  bool `json:"converged"`
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
	// confusion matrix, weighted by the class prior): Participant.DSAccuracy
	// of those with label answers, null when too few.
	LabellerAccuracy map[string]Value `json:"labeller_accuracy"`
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
	// Ranking is the participants with label answers by Dawid-Skene
	// accuracy, best first, those too few to estimate last.
	Ranking []Ranked `json:"ranking"`
	// SharingParticipants is how many participants share an item of
	// unknown class with someone (MinRaters).
	SharingParticipants int `json:"sharing_participants"`
	// Models are the workshop's test, ranked by test accuracy: one per
	// participant, then the consensus, majority vote, the initial training
	// set alone, and the true labels when given.
	Models []Model `json:"models"`
	// Truth is Options.Truth's match to the project, when given.
	Truth *Truth   `json:"truth,omitempty"`
	Notes []string `json:"notes"`
}

// Options tune Run.
type Options struct {
	// Models trains the workshop's models (seconds each); without it the
	// statistics alone are computed.
	Models bool
	// Truth is an optional CSV (path,label) of true labels for items the
	// participants labelled, for a reference model. It is read first, so
	// a wrong file fails before any work.
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
	var truth *Truth
	if opt.Truth != "" {
		if truth, err = readTruth(opt.Truth, items, classes); err != nil {
			return nil, err
		}
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
		Options: append(append([]string{}, classes...), labelstore.NoneOption), HiddenGold: cfg.Label.HiddenGold, Notes: []string{}, Truth: truth}
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

	// Consensus: Dawid-Skene over every vote in effect and every first
	// practice attempt, items of known class clamped. With fewer than
	// MinRaters participants sharing items, the participants' accuracies
	// come from a second estimate that only those items teach.
	voted := map[pk]bool{}
	for _, v := range votes {
		if optionOf(v.Answer, optIndex) >= 0 {
			voted[pk{v.ParticipantID, v.ItemID}] = true
		}
	}
	practice := practiceVotes(firstPractice, byID, voted, optIndex)
	shared, raters := sharing(votes, byID, pIndex, optIndex, len(rep.Participants))
	rep.SharingParticipants = raters
	est := labelstore.EstimateDSPractice(items, votes, practice, classes, false)
	accEst := est
	if raters < MinRaters {
		accEst = labelstore.EstimateDSPractice(items, votes, practice, classes, true)
	}
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
	rep.Consensus = consensusReport(est, counts, majority, byID, rep.Options)

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
		// With two sharing, the consensus where they disagree is a coin
		// toss: only gold items measure them against it.
		_, gold := est.Gold[i]
		if ((voters[i] >= 2 && raters >= MinRaters) || gold) && est.Result.Labels[i] >= 0 {
			vsCons[pi] = append(vsCons[pi], pair{o, est.Result.Labels[i]})
		}
	}
	for i := range rep.Participants {
		pa := &rep.Participants[i]
		pa.GoldAccuracy = share(goldRight[i], pa.GoldN, "no gold item met while labelling (turn on [label] hidden_gold)")
		pa.BadRate = share(bad[i], classAnswers[i], "no class answered")
		pa.SkipRate = share(skips[i], pa.Answers, "no label answer")
		pa.ConsensusN = len(vsCons[i])
		if pa.ConsensusN < MinEvidence {
			why := fmt.Sprintf("%s: %d items gold or shared with another participant; %d needed", TooFew, pa.ConsensusN, MinEvidence)
			if pa.ConsensusN == 0 {
				why = "no item this participant labelled was also labelled by someone else or is gold"
			}
			if raters < MinRaters {
				why += fmt.Sprintf(" (with fewer than %d participants sharing items, only gold counts)", MinRaters)
			}
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
			pa.KappaConsensus = fromStat(cohen(a, b, len(rep.Options)))
		}
		pa.MedianSeconds = undefined("fewer than two answers on the site")
	}
	medianSeconds(rep, siteTimes, sessionOwner, pIndex)
	known := make([]int, len(rep.Participants))
	for i, pa := range rep.Participants {
		known[i] = pa.GoldN
	}
	for _, v := range practice {
		known[pIndex[v.ParticipantID]]++
	}
	estimates(rep, accEst, known, shared, raters)

	// Agreement among participants.
	rep.FleissRounds = fleissPerRound(votes, optIndex, roundNumber)
	overall, _ := fleiss(countsOf(votes, optIndex))
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
		} else if pa.N == 0 {
			pa.ModelAccuracy = undefined("no label answers: left out of the ranking")
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

// MaxListed bounds the contested and differing items listed.
const MaxListed = 12

func consensusReport(est labelstore.DSEstimate, counts [][]int, majority []int, byID map[labelstore.ItemID]labelstore.Item, options []string) Consensus {
	c := Consensus{Method: "dawid-skene", Practice: est.Practice, Iterations: est.Result.Iterations,
		Converged: est.Result.Converged, Differ: []ItemVotes{}, Contested: []ItemVotes{}, Posterior: []ItemVotes{}, LabellerAccuracy: map[string]Value{}}
	for i, row := range counts {
		if slices.ContainsFunc(row, func(x int) bool { return x > 0 }) {
			c.Items++
			if _, gold := est.Gold[i]; gold {
				c.Gold++
			}
		}
	}
	if c.Items == 0 {
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
		if n == 0 {
			continue // a practice answer only: clamped, no vote to report
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
	return c
}

// whys collects why each undefined statistic of a participant is undefined.
func whys(pa *Participant) map[string]string {
	out := map[string]string{}
	for k, v := range map[string]Value{
		"practice_first_accuracy": pa.PracticeFirst, "practice_final_accuracy": pa.PracticeFinal,
		"gold_accuracy": pa.GoldAccuracy, "agreement_with_consensus": pa.AgreementConsensus,
		"kappa_vs_consensus": pa.KappaConsensus, "bad_example_rate": pa.BadRate, "skip_rate": pa.SkipRate,
		"median_seconds_per_answer": pa.MedianSeconds, "model_accuracy": pa.ModelAccuracy, "ds_accuracy": pa.DSAccuracy,
	} {
		if !v.OK {
			out[k] = v.Why
		}
	}
	return out
}

// Get returns the value, whether it is defined and why not (report.Maybe).
func (v Value) Get() (float64, bool, string) { return v.V, v.OK, v.Why }
