package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/project"
)

type participantRow struct {
	Name          string
	ParticipantID int64
	Answers       int // items with a latest answer in the round
	Changes       int // answers given, including replaced ones
	Last          time.Time
}

type itemRow struct {
	ID       labelstore.ItemID
	Path     string
	Answers  int
	Tally    []classCount
	Bad      int
	None     int
	Skip     int
	Majority string // "" on a tie or no answers
}

type adminView struct {
	Round        *labelstore.Round
	Participants []participantRow
	Items        []itemRow
	Rounds       []roundRow
	HasCurve     bool
	HasModel     bool
	Progress     project.CloseProgress
	CloseErr     string
}

type roundRow struct {
	Number  int
	State   string
	Opened  time.Time
	Closed  time.Time
	Picks   int
	Metrics *metricsRow
	Report  bool
}

// inEffect keeps the answers that count: neither undone nor replaced by a
// later answer of the same participant. The others stay in the database and
// the export.
func inEffect(rows []labelstore.AnswerRow) []labelstore.AnswerRow {
	var out []labelstore.AnswerRow
	for _, a := range rows {
		if !a.Undone && !a.Superseded {
			out = append(out, a)
		}
	}
	return out
}

func (s *Server) adminHome(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	av := adminView{Progress: s.p.Progress()}
	s.closeMu.Lock()
	av.CloseErr = s.closeErr
	s.closeMu.Unlock()
	round, err := s.store.CurrentRound(ctx)
	if err != nil && !errors.Is(err, labelstore.ErrNotFound) {
		s.internal(w, r, err)
		return
	}
	av.Round = round
	if round != nil {
		rows, err := s.store.RoundAnswers(ctx, round.ID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		av.Participants, av.Items = s.roundTables(round, rows)
	}
	rounds, err := s.store.Rounds(ctx)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	ms, err := s.metricsByRound(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if m, ok := ms[0]; ok { // the model trained at init, before any round
		av.Rounds = append(av.Rounds, roundRow{Number: 0, State: "init", Metrics: &m, Report: s.reportFile(0) != ""})
	}
	for _, rd := range rounds {
		row := roundRow{Number: rd.Number, State: rd.State, Opened: rd.Opened, Closed: rd.Closed, Picks: len(rd.Picks)}
		if m, ok := ms[rd.Number]; ok {
			row.Metrics = &m
		}
		row.Report = s.reportFile(rd.Number) != ""
		av.Rounds = append(av.Rounds, row)
	}
	for _, m := range ms {
		av.HasCurve = av.HasCurve || m.TestItems > 0 // the curve plots test metrics only
	}
	if mp := s.p.ModelPath(); mp != "" {
		if _, err := os.Stat(mp); err == nil {
			av.HasModel = true
		}
	}
	v := view{Title: "Admin", Nav: "admin", Admin: true, CSRF: s.adminCSRF, Data: av}
	if r.URL.Query().Get("closing") != "" {
		v.Notice = "Closing the round: the site stays open while the model retrains."
	}
	s.render(w, r, http.StatusOK, "admin", v)
}

func (s *Server) roundTables(round *labelstore.Round, rows []labelstore.AnswerRow) ([]participantRow, []itemRow) {
	classes := s.p.Config().Classes
	parts := map[int64]*participantRow{}
	for _, a := range rows {
		p := parts[a.ParticipantID]
		if p == nil {
			p = &participantRow{Name: a.Participant, ParticipantID: a.ParticipantID}
			parts[a.ParticipantID] = p
		}
		p.Changes++
		if a.At.After(p.Last) {
			p.Last = a.At
		}
	}
	items := map[labelstore.ItemID]*itemRow{}
	for _, id := range round.Picks {
		items[id] = &itemRow{ID: id}
	}
	tally := map[labelstore.ItemID]map[string]int{}
	for _, a := range inEffect(rows) {
		parts[a.ParticipantID].Answers++
		it := items[a.ItemID]
		if it == nil { // an answer to an item no longer picked; still shown
			it = &itemRow{ID: a.ItemID}
			items[a.ItemID] = it
		}
		it.Path = a.Path
		it.Answers++
		switch {
		case a.None:
			it.None++
		case a.Skip:
			it.Skip++
		default:
			if tally[a.ItemID] == nil {
				tally[a.ItemID] = map[string]int{}
			}
			tally[a.ItemID][a.Class]++
			if a.Bad {
				it.Bad++
			}
		}
	}
	var prow []participantRow
	for _, p := range parts {
		prow = append(prow, *p)
	}
	sort.Slice(prow, func(i, j int) bool { return prow[i].ParticipantID < prow[j].ParticipantID })
	var irow []itemRow
	order := slices.Clone(round.Picks)
	for id := range items {
		if !slices.Contains(order, id) {
			order = append(order, id)
		}
	}
	for _, id := range order {
		it := items[id]
		if it.Path == "" { // no answers yet to carry the path
			if item, err := s.store.Item(context.Background(), id); err == nil {
				it.Path = item.Path
			}
		}
		best, tie := 0, false
		for _, c := range classes {
			n := tally[id][c.Name]
			if n == 0 {
				continue
			}
			it.Tally = append(it.Tally, classCount{c.Name, n})
			switch {
			case n > best:
				best, tie, it.Majority = n, false, c.Name
			case n == best:
				tie = true
			}
		}
		if tie {
			it.Majority = ""
		}
		irow = append(irow, *it)
	}
	return prow, irow
}

func (s *Server) adminClose(w http.ResponseWriter, r *http.Request) {
	s.closeMu.Lock()
	if s.closing || s.p.Progress().Running {
		s.closeMu.Unlock()
		if wantsJSON(r) {
			writeJSON(w, http.StatusConflict, map[string]any{"error": "a round is already being closed"})
			return
		}
		http.Redirect(w, r, "/admin?closing=1", http.StatusSeeOther)
		return
	}
	s.closing, s.closeErr = true, ""
	s.closeMu.Unlock()
	s.runClose()
	if wantsJSON(r) {
		writeJSON(w, http.StatusAccepted, map[string]any{"started": true})
		return
	}
	http.Redirect(w, r, "/admin?closing=1", http.StatusSeeOther)
}

// runClose closes the round in the background; s.closing is already set.
func (s *Server) runClose() {
	s.bg.Add(1)
	// The close outlives the request that started it: it runs under the
	// server's context, so the admin page can be left and the site keeps
	// serving.
	go func() {
		defer s.bg.Done()
		_, err := s.p.CloseRound(s.ctx)
		s.closeMu.Lock()
		defer s.closeMu.Unlock()
		s.closing, s.closedAt = false, time.Now()
		if err != nil {
			s.closeErr = err.Error()
			s.log.Printf("web: closing the round: %v", err)
		}
	}()
}

// resumeClose finishes a close that a stopped process (killed, power cut)
// left half done, instead of leaving the round refusing answers until an
// admin presses Close again. A close running in another process (winnow
// round close) holds the project's close lock, and this one then only
// reports it.
func (s *Server) resumeClose() {
	r, err := s.store.CurrentRound(s.ctx)
	if err != nil || r.State != labelstore.StateClosing {
		return
	}
	s.log.Printf("web: round %d was left closing by a process that stopped; finishing the close", r.Number)
	s.closeMu.Lock()
	s.closing, s.closeErr = true, ""
	s.closeMu.Unlock()
	s.runClose()
}

func (s *Server) adminProgress(w http.ResponseWriter, r *http.Request) {
	p := s.p.Progress()
	s.closeMu.Lock()
	running, cerr := s.closing || p.Running, s.closeErr
	s.closeMu.Unlock()
	if cerr == "" {
		cerr = p.Err
	}
	round := 0
	if rd, err := s.store.CurrentRound(r.Context()); err == nil {
		round = rd.Number
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"running": running, "stage": p.Stage, "done": p.Done, "total": p.Total, "error": cerr, "round": round,
	})
}

type exampleClass struct {
	project.Class
	Candidates []exampleItem
}

type exampleItem struct {
	ID     labelstore.ItemID
	Chosen bool
}

// maxCandidates bounds the examples page: enough to choose from, small
// enough to load on a phone.
const maxCandidates = 24

func (s *Server) adminExamples(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	items, err := s.store.Items(ctx)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	examples, err := s.store.ExamplesByClass(ctx)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	var out []exampleClass
	for _, c := range s.p.Config().Classes {
		chosen := examples[c.Name]
		ec := exampleClass{Class: c}
		seen := map[labelstore.ItemID]bool{}
		for _, it := range chosen {
			ec.Candidates = append(ec.Candidates, exampleItem{it.ID, true})
			seen[it.ID] = true
		}
		// Candidates are items whose class is known: gold or imported labels.
		for _, it := range items {
			if len(ec.Candidates) >= maxCandidates {
				break
			}
			if !seen[it.ID] && (it.Gold == c.Name || it.Label == c.Name) && it.Role != labelstore.RoleTest {
				ec.Candidates = append(ec.Candidates, exampleItem{it.ID, false})
			}
		}
		out = append(out, ec)
	}
	v := view{Title: "Examples", Nav: "admin", Admin: true, CSRF: s.adminCSRF, Data: out}
	if r.URL.Query().Get("saved") != "" {
		v.Success = "Examples saved."
	}
	s.render(w, r, http.StatusOK, "examples", v)
}

func (s *Server) adminExamplesSubmit(w http.ResponseWriter, r *http.Request) {
	for _, c := range s.p.Config().Classes {
		var ids []labelstore.ItemID
		for _, v := range r.PostForm["ex-"+c.Name] {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 {
				s.fail(w, r, http.StatusBadRequest, "That is not an item id.")
				return
			}
			if _, err := s.store.Item(r.Context(), labelstore.ItemID(id)); err != nil {
				s.fail(w, r, http.StatusBadRequest, "There is no such item.")
				return
			}
			ids = append(ids, labelstore.ItemID(id))
		}
		if err := s.store.SetExamples(r.Context(), c.Name, ids); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	http.Redirect(w, r, "/admin/examples?saved=1", http.StatusSeeOther)
}

func attachment(w http.ResponseWriter, ctype, name string) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
}

// Exports are built in memory first so that a failure becomes an error page
// rather than a truncated file that looks complete.
func (s *Server) exportAnswers(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := s.store.ExportAnswers(r.Context(), &buf); err != nil {
		s.internal(w, r, err)
		return
	}
	attachment(w, "text/csv; charset=utf-8", "answers.csv")
	buf.WriteTo(w)
}

func (s *Server) exportConsensus(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := s.p.ConsensusCSV(r.Context(), &buf); err != nil {
		s.internal(w, r, err)
		return
	}
	attachment(w, "text/csv; charset=utf-8", "consensus.csv")
	buf.WriteTo(w)
}

func (s *Server) exportModel(w http.ResponseWriter, r *http.Request) {
	path := s.p.ModelPath()
	if path == "" {
		s.fail(w, r, http.StatusNotFound, "No model has been trained yet.")
		return
	}
	f, err := os.Open(path)
	if err != nil {
		s.fail(w, r, http.StatusNotFound, "No model has been trained yet.")
		return
	}
	defer f.Close()
	attachment(w, "application/json", filepath.Base(path))
	io.Copy(w, f)
}

// adminReport serves a closed round's evaluation report. The report is a
// self-contained page with inline CSS and SVG, so it gets its own policy:
// inline styles, no scripts, sandboxed.
func (s *Server) adminReport(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		s.fail(w, r, http.StatusNotFound, "There is no such report.")
		return
	}
	path := s.reportFile(n)
	data, err := os.ReadFile(path)
	if path == "" || err != nil {
		s.fail(w, r, http.StatusNotFound, "There is no report for that round yet.")
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.Write(data)
}
