package web

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/winnowml/winnow/internal/assess"
)

// assessState keeps the last assessment with models of a server: training
// a model per participant takes seconds each, so the page trains them on
// request, in the background, and shows the last result meanwhile.
type assessState struct {
	mu      sync.Mutex
	running bool
	rep     *assess.Report
	answers int // answers in the database when rep was computed
	err     string
}

// assessStates maps *Server to its state (kept outside Server so that this
// page needs no change to the server's own fields).
var assessStates sync.Map

func (s *Server) assessState() *assessState {
	st, _ := assessStates.LoadOrStore(s, &assessState{})
	return st.(*assessState)
}

// cell is a statistic formatted for the page: "–" with why when undefined,
// or written out when it rests on too few items (TooFew), as a reader
// would take "–" there for a missing feature.
type cell struct {
	Text, Why string
	TooFew    bool
}

func fmtValue(v assess.Value, prec int) cell {
	switch {
	case !v.OK && strings.HasPrefix(v.Why, assess.TooFew):
		return cell{Text: assess.TooFew, Why: "not defined: " + v.Why, TooFew: true}
	case !v.OK:
		return cell{Text: "–", Why: "not defined: " + v.Why}
	}
	return cell{Text: fmt.Sprintf("%.*f", prec, v.V)}
}

type assessRow struct {
	Name                                 string
	N, GoldN                             int
	PracticeFirst, PracticeFinal, Gold   cell
	Agreement, Kappa, Bad, Skip, Seconds cell
	Model                                cell
	Rank                                 string
	DSAccuracy                           cell
}

type assessRankRow struct {
	Rank, Name   string
	DS, Practice cell
	Evidence     int
}

type assessModelRow struct {
	Rank               string
	Name, Kind         string
	Rows, Added        int
	Accuracy, MacroAUC cell
	AUC                []cell
}

type assessPairRow struct {
	A, B    string
	Overlap int
	Kappa   cell
}

type assessView struct {
	Rep          *assess.Report
	Rows         []assessRow
	Fleiss       cell
	FleissRounds []struct {
		Label string
		Items int
		Kappa cell
	}
	Pairs     []assessPairRow
	Ranking   []assessRankRow
	Models    []assessModelRow
	Classes   []string
	Running   bool
	ModelsAt  time.Time
	Stale     int // answers given since the models were trained
	ModelsErr string
	HasModels bool
	Contested []assess.ItemVotes
	Differ    []assess.ItemVotes
	HiddenPct string
}

func (s *Server) adminAssess(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rep, err := assess.Run(ctx, s.p, assess.Options{})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	c, err := s.store.Count(ctx)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	st := s.assessState()
	st.mu.Lock()
	withModels, answers, running, merr := st.rep, st.answers, st.running, st.err
	st.mu.Unlock()
	av := assessView{Rep: rep, Classes: rep.Classes, Running: running, ModelsErr: merr,
		Contested: rep.Consensus.Contested, Differ: rep.Consensus.Differ, Fleiss: fmtValue(rep.Fleiss, 3)}
	if rep.HiddenGold > 0 {
		av.HiddenPct = fmt.Sprintf("%.0f%%", 100*rep.HiddenGold)
	}
	models := map[string]*assess.Model{}
	if withModels != nil {
		av.HasModels, av.ModelsAt, av.Stale = true, withModels.Created, c.Answers-answers
		for i, m := range withModels.Models {
			row := assessModelRow{Name: m.Name, Kind: m.Kind, Rows: m.Rows, Added: m.Added, Accuracy: fmtValue(m.Accuracy, 3), MacroAUC: fmtValue(m.MacroAUC, 3), Rank: "–"}
			if m.Rank > 0 {
				row.Rank = fmt.Sprint(m.Rank)
			}
			for _, cl := range rep.Classes {
				row.AUC = append(row.AUC, fmtValue(m.AUC[cl], 3))
			}
			av.Models = append(av.Models, row)
			if m.Kind == "participant" {
				models[m.Name] = &withModels.Models[i]
			}
		}
	}
	for _, p := range rep.Participants {
		row := assessRow{Name: p.Name, N: p.N, GoldN: p.GoldN,
			PracticeFirst: fmtValue(p.PracticeFirst, 2), PracticeFinal: fmtValue(p.PracticeFinal, 2), Gold: fmtValue(p.GoldAccuracy, 2),
			Agreement: fmtValue(p.AgreementConsensus, 2), Kappa: fmtValue(p.KappaConsensus, 2), Bad: fmtValue(p.BadRate, 2),
			Skip: fmtValue(p.SkipRate, 2), Seconds: fmtValue(p.MedianSeconds, 2), Rank: "–",
			Model: cell{Text: "–", Why: "not trained yet: press the button below"}}
		row.DSAccuracy = fmtValue(p.DSAccuracy, 2)
		if m := models[p.Name]; m != nil {
			row.Model = fmtValue(m.Accuracy, 3)
			if m.Rank > 0 {
				row.Rank = fmt.Sprint(m.Rank)
			}
		}
		av.Rows = append(av.Rows, row)
	}
	for _, r := range rep.Ranking {
		row := assessRankRow{Rank: "–", Name: r.Name, DS: fmtValue(r.DSAccuracy, 3), Practice: fmtValue(r.PracticeFirst, 2), Evidence: r.Evidence}
		if r.Rank > 0 {
			row.Rank = fmt.Sprint(r.Rank)
		}
		av.Ranking = append(av.Ranking, row)
	}
	for _, fr := range rep.FleissRounds {
		av.FleissRounds = append(av.FleissRounds, struct {
			Label string
			Items int
			Kappa cell
		}{fr.Label, fr.Items, fmtValue(fr.Kappa, 3)})
	}
	for _, pr := range rep.Pairwise {
		av.Pairs = append(av.Pairs, assessPairRow{pr.NameA, pr.NameB, pr.Overlap, fmtValue(pr.Kappa, 3)})
	}
	sort.SliceStable(av.Pairs, func(i, j int) bool { return av.Pairs[i].Overlap > av.Pairs[j].Overlap })
	s.render(w, r, http.StatusOK, "assess", view{Title: "Assessment", Nav: "admin", Admin: true, CSRF: s.adminCSRF, Data: av})
}

// adminAssessModels trains the workshop's models in the background.
func (s *Server) adminAssessModels(w http.ResponseWriter, r *http.Request) {
	st := s.assessState()
	st.mu.Lock()
	if !st.running {
		st.running, st.err = true, ""
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			ctx, cancel := context.WithTimeout(s.ctx, 30*time.Minute)
			defer cancel()
			c, cerr := s.store.Count(ctx)
			rep, err := assess.Run(ctx, s.p, assess.Options{Models: true})
			st.mu.Lock()
			defer st.mu.Unlock()
			st.running = false
			if err == nil {
				err = cerr
			}
			if err != nil {
				st.err = err.Error()
				s.log.Printf("web: assessment models: %v", err)
				return
			}
			st.rep, st.answers = rep, c.Answers
		}()
	}
	st.mu.Unlock()
	http.Redirect(w, r, "/admin/assess", http.StatusSeeOther)
}

// adminAssessChart is the bar chart of the last models' test accuracies.
func (s *Server) adminAssessChart(w http.ResponseWriter, r *http.Request) {
	st := s.assessState()
	st.mu.Lock()
	rep := st.rep
	st.mu.Unlock()
	if rep == nil || len(rep.Models) == 0 {
		s.fail(w, r, http.StatusNotFound, "No models have been trained for the assessment yet.")
		return
	}
	svg, err := assess.Chart(rep)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeSVG(w, svg)
}

// assessCSS styles this page only (the site's CSP allows stylesheets from
// the site, not inline styles).
const assessCSS = `body.page-admin main { max-width: 1240px; }
td.undef { color: #6b7280; cursor: help; text-decoration: underline dotted; }
td.toofew { font-size: .78rem; line-height: 1.25; min-width: 8.5em; white-space: normal; }
.contested { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 12px; }
.contested-item { margin: 0; padding: 8px; border: 1px solid #e5e7eb; border-radius: 8px; text-align: center; font-size: .85rem; }
.contested-item img { image-rendering: pixelated; width: 96px; height: 96px; display: block; margin: 0 auto 6px; }
#assess-models img.curve { max-width: 100%; height: auto; }
`

func (s *Server) adminAssessCSS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "private, max-age=3600")
	w.Write([]byte(assessCSS))
}
