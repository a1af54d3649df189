package web

import (
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/project"
)

// recentAnswers is how many of a session's latest answers the Label page
// shows as thumbnails, newest first.
const recentAnswers = 5

// labelView is the Label page: one item of the session's queue.
type labelView struct {
	Round    *labelstore.Round
	Closing  bool
	Locked   bool // practice not passed yet
	Item     *labelstore.Item
	Latest   *labelstore.Answer
	Position int // 1-based place of Item in the queue
	Total    int
	Answered int
	Classes  []project.Class
	Guides   []classGuide // Classes with keys and examples, for the page only
	Queue    []labelstore.QueueEntry
	Recent   []labelstore.QueueEntry // the latest answers, newest first
	Saved    *labelstore.QueueEntry  // the entry just answered, to confirm it
	Upcoming []upcoming              // what comes after Item once it is answered, for the page to prefetch
	CSRF     string                  // for the forms of sub-templates
	Undone   bool
	AllDone  bool
}

func (s *Server) labelState(r *http.Request, sess *labelstore.Session) (*labelView, error) {
	lv := &labelView{Classes: s.p.Config().Classes}
	ok, err := s.practiceDone(r, sess)
	if err != nil {
		return nil, err
	}
	if !ok {
		lv.Locked = true
		return lv, nil
	}
	round, err := s.store.CurrentRound(r.Context())
	if errors.Is(err, labelstore.ErrNotFound) {
		return lv, nil
	}
	if err != nil {
		return nil, err
	}
	lv.Round = round
	switch round.State {
	case labelstore.StateClosing:
		lv.Closing = true
		return lv, nil
	case labelstore.StateClosed: // the pool is used up: no next round
		lv.Round = nil
		return lv, nil
	}
	q, err := s.store.Queue(r.Context(), sess.ID, round.ID)
	if err != nil {
		return nil, err
	}
	lv.Queue, lv.Total = q, len(q)
	for _, e := range q {
		if e.Latest != nil {
			lv.Answered++
			lv.Recent = append(lv.Recent, e)
		}
	}
	slices.SortStableFunc(lv.Recent, func(a, b labelstore.QueueEntry) int { return -a.Latest.At.Compare(b.Latest.At) })
	lv.Recent = lv.Recent[:min(len(lv.Recent), recentAnswers)]
	return lv, nil
}

// Filter reports whether the page offers the filter box: once there are
// more classes than digit keys.
func (lv *labelView) Filter() bool { return len(lv.Guides) > 10 }

// upcoming is an item the page will likely show next.
type upcoming struct {
	ID       int64 `json:"id"`
	Position int   `json:"position"`
}

// choose puts the item the page shows into lv: the one asked for (an
// answer to change) if it is in the queue, else the first unanswered one in
// the rotation. It reports whether a wanted item was found.
func (lv *labelView) choose(want, saved int64) bool {
	found := false
	for i, e := range lv.Queue {
		id := int64(e.Item.ID)
		if id == saved && e.Latest != nil {
			lv.Saved = &lv.Queue[i]
		}
		if want != 0 && id == want {
			lv.Item, lv.Latest, lv.Position = &lv.Queue[i].Item, lv.Queue[i].Latest, i+1
			found = true
		}
	}
	if lv.Item == nil {
		for i, e := range lv.Queue {
			if e.Latest == nil {
				lv.Item, lv.Latest, lv.Position = &lv.Queue[i].Item, nil, i+1
				break
			}
		}
	}
	lv.AllDone = lv.Item == nil && lv.Total > 0
	// Once Item is answered, the page shows the first unanswered item
	// other than it: the script shows that one at once, before the server
	// confirms, and corrects itself if the server says otherwise.
	if lv.Item == nil {
		return found
	}
	for i, e := range lv.Queue {
		if len(lv.Upcoming) == 2 {
			break
		}
		if e.Latest == nil && e.Item.ID != lv.Item.ID {
			lv.Upcoming = append(lv.Upcoming, upcoming{ID: int64(e.Item.ID), Position: i + 1})
		}
	}
	return found
}

func (s *Server) label(w http.ResponseWriter, r *http.Request, sess *labelstore.Session) {
	lv, err := s.labelState(r, sess)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	want, _ := strconv.ParseInt(r.URL.Query().Get("item"), 10, 64)
	saved, _ := strconv.ParseInt(r.URL.Query().Get("saved"), 10, 64)
	found := lv.choose(want, saved)
	lv.Undone = r.URL.Query().Get("undone") != ""
	lv.CSRF = sess.CSRF
	if lv.Item != nil || lv.AllDone {
		if lv.Guides, err = s.classGuides(r.Context()); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	v := view{Title: "Label", Nav: "label", Session: sess, CSRF: sess.CSRF, Data: lv}
	if lv.Closing {
		v.Notice = "Round " + strconv.Itoa(lv.Round.Number) + " is being closed: the model is retraining and will pick the next images. This page reloads when they are ready."
	}
	if want != 0 && !found && lv.Round != nil && !lv.Closing {
		v.Warn = "That image is not in your batch."
	}
	s.render(w, r, http.StatusOK, "label", v)
}

func (s *Server) labelSubmit(w http.ResponseWriter, r *http.Request, sess *labelstore.Session) {
	// The answer path is the hot one (every key press of every participant),
	// so it reads only what it must. The session comes from the cookie alone;
	// the round and item in the form are requests, not authority.
	ok, err := s.practiceDone(r, sess)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if !ok {
		s.fail(w, r, http.StatusForbidden, "Labelling opens once you have passed the practice.")
		return
	}
	// Whether the round is open and the item one of its picks is checked by
	// Record inside its write transaction, where no close can slip in
	// between the check and the insert.
	f := r.PostForm
	roundID, _ := strconv.ParseInt(f.Get("round"), 10, 64)
	id, _ := strconv.ParseInt(f.Get("item"), 10, 64)
	classes := s.p.Config().Classes
	a := labelstore.Answer{SessionID: sess.ID, ItemID: labelstore.ItemID(id), RoundID: roundID, Kind: labelstore.KindLabel}
	// Three kinds of submit button: a class (with the "bad example" box),
	// "none of these" and "skip".
	switch {
	case f.Get("none") != "":
		a.None = true
	case f.Get("skip") != "":
		a.Skip = true
	case f.Get("class") != "":
		if !classSet(classes)[f.Get("class")] {
			s.fail(w, r, http.StatusBadRequest, "That answer is not one of the classes.")
			return
		}
		a.Class, a.Bad = f.Get("class"), f.Get("bad") != ""
	default:
		s.fail(w, r, http.StatusBadRequest, "Choose a class, “none of these” or skip.")
		return
	}
	if _, err := s.store.Record(r.Context(), a); err != nil {
		if errors.Is(err, labelstore.ErrRoundClosed) {
			s.roundClosed(w, r, sess)
			return
		}
		if errors.Is(err, labelstore.ErrInvalid) {
			s.fail(w, r, http.StatusBadRequest, "That image is not in your batch, or that round is not open.")
			return
		}
		s.internal(w, r, err)
		return
	}
	// Reaching here means the answer is committed: only now is it acknowledged.
	if wantsJSON(r) {
		s.labelJSON(w, r, sess, id, 0)
		return
	}
	http.Redirect(w, r, "/label?saved="+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

// labelJSON answers a script's answer or undo with what the page shows
// next, decided here exactly as a page load would: the script keeps no
// rotation, gate or round of its own.
func (s *Server) labelJSON(w http.ResponseWriter, r *http.Request, sess *labelstore.Session, saved, undone int64) {
	lv, err := s.labelState(r, sess)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	lv.choose(undone, saved)
	type entry struct {
		ID     int64  `json:"id"`
		Answer string `json:"answer"`
		Bad    bool   `json:"bad,omitempty"`
	}
	type next struct {
		entry
		Position int `json:"position"`
	}
	out := struct {
		Saved    bool       `json:"saved"`
		Undone   bool       `json:"undone,omitempty"`
		Item     int64      `json:"item"`
		Answer   string     `json:"answer,omitempty"`
		Round    int64      `json:"round"`
		Number   int        `json:"number"`
		State    string     `json:"state"`
		Locked   bool       `json:"locked"`
		Answered int        `json:"answered"`
		Total    int        `json:"total"`
		Next     *next      `json:"next"`
		Upcoming []upcoming `json:"upcoming"` // what follows Next once it is answered
		Recent   []entry    `json:"recent"`
		Queue    []entry    `json:"queue"`
		AllDone  bool       `json:"all_done"`
	}{Saved: saved != 0, Undone: undone != 0, Item: saved + undone, Locked: lv.Locked,
		Answered: lv.Answered, Total: lv.Total, AllDone: lv.AllDone,
		Upcoming: []upcoming{}, Recent: []entry{}, Queue: []entry{}}
	if lv.Saved != nil {
		out.Answer = answerText(lv.Saved.Latest)
	}
	if lv.Round != nil {
		out.Round, out.Number, out.State = lv.Round.ID, lv.Round.Number, lv.Round.State
	}
	toEntry := func(e labelstore.QueueEntry) entry {
		en := entry{ID: int64(e.Item.ID), Answer: answerText(e.Latest)}
		if e.Latest != nil {
			en.Bad = e.Latest.Bad
		}
		return en
	}
	if lv.Item != nil {
		out.Next = &next{entry: toEntry(lv.Queue[lv.Position-1]), Position: lv.Position}
	}
	out.Upcoming = append(out.Upcoming, lv.Upcoming...)
	for _, e := range lv.Recent {
		out.Recent = append(out.Recent, toEntry(e))
	}
	for _, e := range lv.Queue {
		out.Queue = append(out.Queue, toEntry(e))
	}
	writeJSON(w, http.StatusOK, out)
}

// roundClosed answers a label that arrived after its round stopped taking
// answers: it was not saved, and the page says so.
func (s *Server) roundClosed(w http.ResponseWriter, r *http.Request, sess *labelstore.Session) {
	msg := "This round is closing or closed, so that answer was not saved. The next batch appears on the Label page as soon as the model has picked it."
	if wantsJSON(r) {
		writeJSON(w, http.StatusConflict, map[string]any{"saved": false, "error": msg})
		return
	}
	v := view{Title: "Label", Nav: "label", Session: sess, CSRF: sess.CSRF, Warn: msg, Data: &labelView{Closing: true}}
	s.render(w, r, http.StatusConflict, "label", v)
}

func (s *Server) labelUndo(w http.ResponseWriter, r *http.Request, sess *labelstore.Session) {
	round, err := s.store.CurrentRound(r.Context())
	if err != nil && !errors.Is(err, labelstore.ErrNotFound) {
		s.internal(w, r, err)
		return
	}
	if round == nil || round.State != labelstore.StateOpen {
		s.roundClosed(w, r, sess)
		return
	}
	a, err := s.store.Undo(r.Context(), sess.ID, round.ID)
	if errors.Is(err, labelstore.ErrNotFound) {
		if wantsJSON(r) {
			s.labelJSON(w, r, sess, 0, 0)
			return
		}
		http.Redirect(w, r, "/label", http.StatusSeeOther)
		return
	}
	if errors.Is(err, labelstore.ErrRoundClosed) {
		s.roundClosed(w, r, sess)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if wantsJSON(r) {
		s.labelJSON(w, r, sess, 0, int64(a.ItemID))
		return
	}
	http.Redirect(w, r, "/label?undone=1&item="+strconv.FormatInt(int64(a.ItemID), 10), http.StatusSeeOther)
}

// apiQueue is the session's own queue as JSON, for scripts and the load
// generator; it shows nothing of other sessions.
func (s *Server) apiQueue(w http.ResponseWriter, r *http.Request, sess *labelstore.Session) {
	lv, err := s.labelState(r, sess)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	type entry struct {
		ID     int64  `json:"id"`
		Answer string `json:"answer,omitempty"`
	}
	out := struct {
		Round   int64    `json:"round"`
		Number  int      `json:"number"`
		State   string   `json:"state"`
		Locked  bool     `json:"locked"`
		CSRF    string   `json:"csrf"`
		Classes []string `json:"classes"`
		Items   []entry  `json:"items"`
	}{CSRF: sess.CSRF, Locked: lv.Locked, Items: []entry{}, Classes: []string{}}
	for _, c := range lv.Classes {
		out.Classes = append(out.Classes, c.Name)
	}
	if lv.Round != nil {
		out.Round, out.Number, out.State = lv.Round.ID, lv.Round.Number, lv.Round.State
	}
	for _, e := range lv.Queue {
		en := entry{ID: int64(e.Item.ID)}
		if e.Latest != nil {
			en.Answer = answerText(e.Latest)
		}
		out.Items = append(out.Items, en)
	}
	writeJSON(w, http.StatusOK, out)
}

func answerText(a *labelstore.Answer) string {
	switch {
	case a == nil:
		return ""
	case a.None:
		return "none of these"
	case a.Skip:
		return "skipped"
	case a.Bad:
		return a.Class + " (bad example)"
	}
	return a.Class
}
