package assess

import (
	"fmt"
	"math"
	"sort"

	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/report"
)

// MinEvidence is the fewest items a statistic of agreement rests on before
// it is given as a number; below it the statistic is "too few shared
// answers to estimate". It applies to:
//
//   - a participant's Dawid-Skene accuracy: their answers on items of
//     known class (first practice attempts, gold met while labelling),
//     which measure the confusion matrix directly, plus their items of
//     unknown class that someone else also answered, which measure it
//     through the others, but only once MinRaters participants share
//     items;
//   - a participant's agreement and kappa against the consensus: over the
//     gold items they met while labelling plus, with MinRaters sharing,
//     the items someone else also answered;
//   - Cohen's kappa of a pair: the items both answered;
//   - Fleiss' kappa: the items with two or more answers.
//
// Ten items put a share's standard error near 0.15 at 0.5: about the
// widest that still tells a good labeller from a guessing one.
const MinEvidence = 10

// MinRaters is how many participants must share items before the items of
// unknown class count towards a confusion matrix. With two, where they
// disagree the likelihood is the same whichever of them is right (the
// model only sees how often their answer pairs occur), so Dawid-Skene
// would rank them on where its iterations happened to start; the gold
// alone then teaches the matrices (agreement.DSOptions.GoldOnly).
const MinRaters = 3

// TooFew begins the reason of a statistic undefined by MinEvidence; the
// reports show it in place of the number.
const TooFew = report.TooFew

// Ranked is a participant's place in the ranking by Dawid-Skene accuracy,
// with their practice accuracy beside it.
type Ranked struct {
	// Rank is 1 for the best; equal accuracies share a rank; 0 when the
	// accuracy is not estimated.
	Rank          int    `json:"rank"`
	Name          string `json:"name"`
	DSAccuracy    Value  `json:"ds_accuracy"`
	PracticeFirst Value  `json:"practice_first_accuracy"`
	// Evidence is the items the estimate rests on (Participant.Evidence).
	Evidence int    `json:"evidence"`
	Why      string `json:"undefined,omitempty"`
	pi       int    // index into Report.Participants
}

// practiceVotes are the first attempts at practice items with gold, as
// votes, in the order given: the answers Dawid-Skene clamps as known.
// An item the participant also answered in a round is left out: the vote
// in effect counts once.
func practiceVotes(first map[pk]labelstore.AnswerRow, byID map[labelstore.ItemID]labelstore.Item, voted map[pk]bool, optIndex map[string]int) []labelstore.Vote {
	var out []labelstore.Vote
	for k, r := range first {
		if byID[k.item].Gold == "" || voted[k] || optionOf(r.Answer, optIndex) < 0 {
			continue
		}
		out = append(out, labelstore.Vote{Answer: r.Answer, ParticipantID: k.p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// sharing counts, per participant index, the items of unknown class they
// gave a class or "none" that someone else also did, and how many
// participants share at least one such item.
func sharing(votes []labelstore.Vote, byID map[labelstore.ItemID]labelstore.Item, pIndex map[int64]int, optIndex map[string]int, n int) ([]int, int) {
	voters := map[labelstore.ItemID][]int{}
	for _, v := range votes {
		if optionOf(v.Answer, optIndex) >= 0 && byID[v.ItemID].Gold == "" {
			voters[v.ItemID] = append(voters[v.ItemID], pIndex[v.ParticipantID])
		}
	}
	shared := make([]int, n)
	for _, ps := range voters {
		if len(ps) < 2 {
			continue
		}
		for _, pi := range ps {
			shared[pi]++
		}
	}
	raters := 0
	for _, s := range shared {
		if s > 0 {
			raters++
		}
	}
	return shared, raters
}

// tooFewDS says what a participant's estimate lacks.
func tooFewDS(known, shared, raters int) string {
	switch {
	case raters >= MinRaters:
		return fmt.Sprintf("%s: %d items of known class and %d shared with another participant; %d needed", TooFew, known, shared, MinEvidence)
	case shared > 0:
		return fmt.Sprintf("%s: %d items of known class, and the %d shared do not count while fewer than %d participants share items; %d needed",
			TooFew, known, shared, MinRaters, MinEvidence)
	}
	return fmt.Sprintf("%s: %d items of known class and none shared with another participant; %d needed", TooFew, known, MinEvidence)
}

// estimates sets each participant's evidence and Dawid-Skene accuracy,
// the consensus's LabellerAccuracy, and the ranking. Participants without
// a label answer are left out: a practice-only estimate would rank how
// someone practised, not how they label.
func estimates(rep *Report, est labelstore.DSEstimate, known, shared []int, raters int) {
	rep.Ranking = []Ranked{}
	for i := range rep.Participants {
		pa := &rep.Participants[i]
		pa.KnownN, pa.SharedN, pa.Evidence = known[i], shared[i], known[i]
		if raters >= MinRaters {
			pa.Evidence += shared[i]
		}
		l, inDS := est.PIndex[pa.ID]
		switch {
		case pa.N == 0:
			pa.DSAccuracy = undefined("no label answers: left out of the ranking")
			continue
		case pa.Evidence < MinEvidence:
			pa.DSAccuracy = Value{Why: tooFewDS(pa.KnownN, pa.SharedN, raters)}
		case !inDS:
			pa.DSAccuracy = undefined("no answer in the consensus")
		default:
			acc := 0.0
			for t, pr := range est.Result.Prior {
				acc += pr * est.Result.Confusion[l][t][t]
			}
			pa.DSAccuracy = defined(math.Round(acc*1000) / 1000)
		}
		rep.Consensus.LabellerAccuracy[pa.Name] = pa.DSAccuracy
		rep.Ranking = append(rep.Ranking, Ranked{Name: pa.Name, DSAccuracy: pa.DSAccuracy, PracticeFirst: pa.PracticeFirst, Evidence: pa.Evidence, Why: pa.DSAccuracy.Why, pi: i})
	}
	rankByValue(rep.Ranking, func(r *Ranked) (Value, *int) { return r.DSAccuracy, &r.Rank })
	for _, r := range rep.Ranking {
		rep.Participants[r.pi].DSRank = r.Rank
	}
	labelled := 0
	for _, pa := range rep.Participants {
		if pa.N > 0 {
			labelled++
		}
	}
	if labelled >= 2 && raters < MinRaters {
		rep.Notes = append(rep.Notes, fmt.Sprintf("fewer than %d participants share items: where two disagree nothing says which one is right, so Dawid-Skene learns each participant from the items of known class alone (practice answers, gold); to tell them apart, turn on [label] hidden_gold or have a third participant label the same items", MinRaters))
	}
}
