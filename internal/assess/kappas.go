package assess

import (
	"fmt"
	"slices"
	"sort"

	"github.com/winnowml/winnow/internal/agreement"
	"github.com/winnowml/winnow/internal/labelstore"
)

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
		s, multi := fleiss(countsOf(byRound[id], optIndex))
		rk := RoundKappa{Round: roundNumber[id], Label: fmt.Sprintf("round %d", roundNumber[id]), Items: multi}
		if id == 0 {
			rk.Label = "imported answers"
		}
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
			s := cohen(xa, xb, k)
			out = append(out, Pair{A: a, B: b, NameA: ps[a].Name, NameB: ps[b].Name, Overlap: len(ids), Kappa: fromStat(s), Why: s.Why})
		}
	}
	return out
}

// fleiss is Fleiss' kappa over counts, too few under MinEvidence items
// with two or more answers.
func fleiss(counts [][]int) (agreement.Stat, int) {
	multi := 0
	for _, row := range counts {
		n := 0
		for _, x := range row {
			n += x
		}
		if n >= 2 {
			multi++
		}
	}
	if multi > 0 && multi < MinEvidence {
		return agreement.Stat{Why: fmt.Sprintf("%s: %d items with two or more answers; %d needed", TooFew, multi, MinEvidence)}, multi
	}
	return agreement.FleissKappa(counts), multi
}

// cohen is Cohen's kappa of two answer lists, too few under MinEvidence
// items.
func cohen(a, b []int, k int) agreement.Stat {
	if n := len(a); n > 0 && n < MinEvidence {
		return agreement.Stat{Why: fmt.Sprintf("%s: %d items in common; %d needed", TooFew, n, MinEvidence)}
	}
	return agreement.CohenKappa(a, b, k)
}
