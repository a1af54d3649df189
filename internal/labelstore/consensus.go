package labelstore

import (
	"sort"
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
//   - a gold label wins over any answer; then an imported label;
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
	best := d.None
	top := []string{}
	if d.None > 0 {
		top = append(top, "none")
	}
	for c, n := range d.Votes {
		switch {
		case n > best:
			best, top = n, []string{c}
		case n == best && n > 0:
			top = append(top, c)
		}
	}
	sort.Strings(top)
	switch {
	case best == 0:
		d.Status = Unanswered
	case len(top) > 1:
		d.Status, d.Tied = Tie, top
	case top[0] == "none" && d.None == best:
		d.Status = NoneOfThem
	case !trainFlagged && 2*d.Bad[top[0]] >= d.Votes[top[0]]:
		d.Status = Flagged
	default:
		d.Label, d.Source, d.Status = top[0], "majority", Labelled
	}
}
