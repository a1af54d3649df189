package project

import (
	"context"
	"fmt"

	"github.com/winnowml/winnow/internal/plural"
)

// MaxPracticePages is the number of practice pages above which init and
// import-labels --gold warn: each page must pass the gate before the next
// opens, and labelling opens after the last.
const MaxPracticePages = 3

// PracticePlan is what a participant does before labelling, as the
// Practice page will show it with the project's settings now.
type PracticePlan struct {
	Items       int // practice items on the pages
	Hidden      int // practice items kept off the pages for hidden gold
	Pages       int
	PageSize    int
	Gate        string
	MinAccuracy float64
}

// PracticePlan counts the practice pages of the project: its practice
// items (without those hidden gold keeps off the pages, as the Practice
// page leaves them out) in pages of [practice] page_size.
func (p *Project) PracticePlan(ctx context.Context) (PracticePlan, error) {
	c, err := p.store.Count(ctx)
	if err != nil {
		return PracticePlan{}, err
	}
	shown, err := p.store.PracticeItems(ctx)
	if err != nil {
		return PracticePlan{}, err
	}
	pl := PracticePlan{Items: len(shown), Hidden: c.Practice - len(shown), PageSize: p.cfg.Practice.PageSize,
		Gate: p.cfg.Practice.Gate, MinAccuracy: p.cfg.Practice.MinAccuracy}
	if pl.PageSize > 0 {
		pl.Pages = (pl.Items + pl.PageSize - 1) / pl.PageSize
	}
	return pl, nil
}

// Lines says the plan in one line, and, when a participant must pass more
// than MaxPracticePages pages before labelling, a warning line that names
// the settings that lower it.
func (pl PracticePlan) Lines() []string {
	if pl.Items == 0 {
		s := "practice: no practice items: the Practice page is empty and labelling opens at once"
		if pl.Hidden > 0 {
			s += fmt.Sprintf(" (hidden gold keeps all %s off the pages)", plural.N(pl.Hidden, "practice item"))
		}
		return []string{s}
	}
	var gate string
	switch pl.Gate {
	case GateOff:
		gate = "gate off: practice is optional, labelling opens at once"
	case GateAccuracy:
		gate = fmt.Sprintf("gate accuracy: a share right >= %g per page", pl.MinAccuracy)
	default:
		gate = "gate " + pl.Gate
	}
	s := fmt.Sprintf("practice: %s on %s of %d (%s)", plural.N(pl.Items, "item"), plural.N(pl.Pages, "page"), pl.PageSize, gate)
	if pl.Hidden > 0 {
		s += fmt.Sprintf("; hidden gold keeps %s off the pages", plural.N(pl.Hidden, "more practice item"))
	}
	lines := []string{s}
	if pl.Pages > MaxPracticePages && pl.Gate != GateOff {
		lines = append(lines, fmt.Sprintf("warning: a participant must pass %d practice pages (more than %d) before labelling: "+
			"raise [practice] page_size in winnow.toml, or give a new project a lower [practice] max_items "+
			"(init --practice-max-items; it applies as gold is imported and never makes a practice item a test item)",
			pl.Pages, MaxPracticePages))
	}
	return lines
}
