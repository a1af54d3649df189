package labelstore

import (
	"slices"
	"sort"

	"github.com/winnowml/winnow/internal/agreement"
)

// Decision statuses.
const (
	Labelled   = "labelled"   // trains with Label
	Tie        = "tie"        // the top answers tie: left unlabelled, listed for the admin
	NoneOfThem = "none"       // "none of these" won: left out of training
	Flagged    = "flagged"    // the winning class was mostly flagged "bad example" and flagged answers do not train
	Unanswered = "unanswered" // only skips, or no answer at all
)

// Decision is the consensus for one item.
type Decision struct {
	Item   Item
	Label  string // the training label when Status is Labelled
	Source string // "gold", "imported" or "majority" when labelled
	Status string
	// Votes counts the participants' answers in effect by class; None
	// counts "none of these", Skips the skips (which are no vote), Bad the
	// votes of each class carrying the "bad example" flag.
	Votes map[string]int
	Bad   map[string]int
	None  int
	Skips int
	Tied  []string // the tied answers ("none" for none of these), sorted
}

// Consensus decides each item's training label:
//
//   - a gold label wins over any answer; then an imported label (an
//     imported "none of these", NoneOption, makes the item NoneOfThem);
//   - otherwise the majority over participants' answers in effect (one
//     vote each; skips are no vote; "none of these" is a vote for none);
//   - when the top answers tie, the item stays unlabelled (Tie);
//   - when "none of these" wins, the item is left out (NoneOfThem);
//   - unless trainFlagged, a winning class at least half of whose votes
//     carry the "bad example" flag is left out (Flagged): the participants
//     agree on the class but not that the image should teach it.
//
// items are the items to decide (any without votes, gold or imported label
// come out Unanswered); votes may be in any order.
func Consensus(items []Item, votes []Vote, trainFlagged bool) []Decision {
	byItem := map[ItemID][]Vote{}
	for _, v := range votes {
		byItem[v.ItemID] = append(byItem[v.ItemID], v)
	}
	out := make([]Decision, 0, len(items))
	for _, it := range items {
		d := Decision{Item: it, Votes: map[string]int{}, Bad: map[string]int{}}
		for _, v := range byItem[it.ID] {
			switch {
			case v.Skip:
				d.Skips++
			case v.None:
				d.None++
			default:
				d.Votes[v.Class]++
				if v.Bad {
					d.Bad[v.Class]++
				}
			}
		}
		switch {
		case it.Gold != "":
			d.Label, d.Source, d.Status = it.Gold, "gold", Labelled
		case it.Label == NoneOption:
			d.Source, d.Status = "imported", NoneOfThem
		case it.Label != "":
			d.Label, d.Source, d.Status = it.Label, "imported", Labelled
		default:
			decide(&d, trainFlagged)
		}
		out = append(out, d)
	}
	return out
}

func decide(d *Decision, trainFlagged bool) {
	// One row of counts: the classes voted for, sorted, then "none of
	// these"; the majority rule itself is agreement's, shared with the
	// agreement statistics.
	options := make([]string, 0, len(d.Votes)+1)
	for c := range d.Votes {
		options = append(options, c)
	}
	sort.Strings(options)
	row := make([]int, len(options)+1)
	for i, c := range options {
		row[i] = d.Votes[c]
	}
	row[len(options)] = d.None
	best := slices.Max(row)
	win := agreement.Majority([][]int{row})[0]
	switch {
	case best == 0:
		d.Status = Unanswered
	case win < 0:
		d.Status = Tie
		for i, n := range row {
			if n == best {
				if i == len(options) {
					d.Tied = append(d.Tied, "none")
				} else {
					d.Tied = append(d.Tied, options[i])
				}
			}
		}
		sort.Strings(d.Tied)
	case win == len(options):
		d.Status = NoneOfThem
	case !trainFlagged && 2*d.Bad[options[win]] >= d.Votes[options[win]]:
		d.Status = Flagged
	default:
		d.Label, d.Source, d.Status = options[win], "majority", Labelled
	}
}
