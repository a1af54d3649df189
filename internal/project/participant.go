package project

import (
	"context"

	"github.com/winnowml/winnow/internal/labelstore"
)

// ImportParticipant loads path,label answers collected elsewhere (another
// tool, a spreadsheet) as the answers of the participant called name, so
// the assessment covers teams that label offline. They vote in Close
// round's consensus like answers given on the site; on gold items they
// measure the participant and never train (gold wins). An empty label or
// "none" is the answer "none of these". Unknown paths and classes are
// counted in the result, not fatal; a file that cannot be read, or gives
// one path two labels, imports nothing.
func (p *Project) ImportParticipant(ctx context.Context, file, labelColumn, name string) (ImportResult, error) {
	res, rows, err := p.readImport(ctx, file, labelColumn)
	if err != nil {
		return res, err
	}
	var answers []labelstore.ImportedAnswer
	for _, r := range rows {
		// An empty label or "none" is the answer "none of these".
		answers = append(answers, labelstore.ImportedAnswer{Item: r.item.ID, Class: r.class, None: r.class == ""})
		if r.class == "" {
			res.None++
		}
	}
	if len(answers) == 0 {
		return res, nil
	}
	if _, err := p.store.ImportAnswers(ctx, name, answers); err != nil {
		return res, err
	}
	res.Imported = len(answers)
	return res, nil
}
