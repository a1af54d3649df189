package web

import (
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/project"
)

func (s *Server) about(w http.ResponseWriter, r *http.Request) {
	sess, err := s.sessionOf(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	cfg := s.p.Config()
	v := view{Title: "About", Nav: "about", Session: sess, Data: struct {
		About   template.HTML
		Classes []project.Class
		Start   bool
	}{renderMarkdown(cfg.About), cfg.Classes, r.URL.Query().Get("start") != ""}}
	if sess == nil {
		v.CSRF = preToken(w, r)
	} else {
		v.CSRF = sess.CSRF
	}
	s.render(w, r, http.StatusOK, "about", v)
}

func (s *Server) learn(w http.ResponseWriter, r *http.Request) {
	sess, err := s.sessionOf(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	classes, err := s.classGuides(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := view{Title: "Learn", Nav: "learn", Session: sess, Data: classes}
	s.render(w, r, http.StatusOK, "learn", v)
}

// practicePage is one page of gold practice items and the session's latest
// answers to them.
type practicePage struct {
	Number, Pages int
	Items         []practiceItem
	Answered      int // items with an answer
	Correct       int
	Passed        bool
	Unlocked      int // the highest page number the session may open
	Gate          string
	MinAccuracy   float64
	Classes       []project.Class
	Done          bool // every page passed
}

type practiceItem struct {
	Item    labelstore.Item
	Answer  string // latest answer, "" if none
	Correct bool
}

// practiceState computes every page for a session. The gate is decided here,
// on the server, from the stored answers: the page's script plays no part.
func (s *Server) practiceState(r *http.Request, sess *labelstore.Session) ([]practicePage, error) {
	cfg := s.p.Config()
	items, err := s.store.PracticeItems(r.Context())
	if err != nil {
		return nil, err
	}
	answers, err := s.store.LatestPractice(r.Context(), sess.ID)
	if err != nil {
		return nil, err
	}
	latest := map[labelstore.ItemID]string{}
	for id, a := range answers {
		latest[id] = a.Class
	}
	size := cfg.Practice.PageSize
	if size <= 0 {
		size = 6
	}
	var pages []practicePage
	for start := 0; start < len(items); start += size {
		pg := practicePage{Number: len(pages) + 1, Gate: cfg.Practice.Gate, MinAccuracy: cfg.Practice.MinAccuracy, Classes: cfg.Classes}
		for _, it := range items[start:min(start+size, len(items))] {
			a := latest[it.ID]
			pi := practiceItem{Item: it, Answer: a, Correct: a != "" && a == it.Gold}
			if a != "" {
				pg.Answered++
			}
			if pi.Correct {
				pg.Correct++
			}
			pg.Items = append(pg.Items, pi)
		}
		pg.Passed = pg.Answered == len(pg.Items) && gatePassed(cfg.Practice.Gate, cfg.Practice.MinAccuracy, pg.Correct, len(pg.Items))
		pages = append(pages, pg)
	}
	unlocked := 1
	for _, pg := range pages {
		if !pg.Passed {
			break
		}
		unlocked = min(pg.Number+1, len(pages))
	}
	done := true
	for i := range pages {
		pages[i].Pages = len(pages)
		pages[i].Unlocked = unlocked
		done = done && pages[i].Passed
	}
	for i := range pages {
		pages[i].Done = done
	}
	return pages, nil
}

func gatePassed(gate string, minAcc float64, correct, n int) bool {
	switch gate {
	case "off":
		return true
	case "accuracy":
		return n == 0 || float64(correct)/float64(n) >= minAcc
	default: // "all-correct", and anything unknown fails closed
		return correct == n
	}
}

// practiceDone reports whether the session may label: every practice page
// passed, or the gate is off.
func (s *Server) practiceDone(r *http.Request, sess *labelstore.Session) (bool, error) {
	if s.p.Config().Practice.Gate == "off" {
		return true, nil
	}
	// Passing is remembered for the life of the process: the gate admits a
	// participant once, and the answer path need not re-read the practice.
	if _, ok := s.passed.Load(sess.ID); ok {
		return true, nil
	}
	pages, err := s.practiceState(r, sess)
	if err != nil {
		return false, err
	}
	done := len(pages) == 0 || pages[0].Done
	if done {
		s.passed.Store(sess.ID, true)
	}
	return done, nil
}

func (s *Server) practice(w http.ResponseWriter, r *http.Request, sess *labelstore.Session) {
	pages, err := s.practiceState(r, sess)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := view{Title: "Practice", Nav: "practice", Session: sess, CSRF: sess.CSRF}
	if len(pages) == 0 {
		v.Data = nil
		s.render(w, r, http.StatusOK, "practice", v)
		return
	}
	n := pages[0].Unlocked
	if q := r.URL.Query().Get("page"); q != "" {
		k, err := strconv.Atoi(q)
		if err != nil || k < 1 || k > len(pages) {
			s.fail(w, r, http.StatusNotFound, "There is no such practice page.")
			return
		}
		if k > pages[0].Unlocked {
			v.Warn = "Page " + strconv.Itoa(k) + " opens once page " + strconv.Itoa(pages[0].Unlocked) + " is passed."
		} else {
			n = k
		}
	}
	v.Data = pages[n-1]
	s.render(w, r, http.StatusOK, "practice", v)
}

func (s *Server) practiceSubmit(w http.ResponseWriter, r *http.Request, sess *labelstore.Session) {
	pages, err := s.practiceState(r, sess)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	k, err := strconv.Atoi(r.PostForm.Get("page"))
	if err != nil || k < 1 || k > len(pages) {
		s.fail(w, r, http.StatusBadRequest, "There is no such practice page.")
		return
	}
	if k > pages[0].Unlocked {
		s.fail(w, r, http.StatusForbidden, "That practice page is locked until the one before it is passed.")
		return
	}
	classes := classSet(s.p.Config().Classes)
	for _, it := range pages[k-1].Items {
		c := r.PostForm.Get("item-" + strconv.FormatInt(int64(it.Item.ID), 10))
		if c == "" {
			continue // unanswered stays unanswered; the page asks again
		}
		if !classes[c] {
			s.fail(w, r, http.StatusBadRequest, "That answer is not one of the classes.")
			return
		}
		if c == it.Answer {
			continue // the same answer again adds nothing to the history
		}
		if _, err := s.store.Record(r.Context(), labelstore.Answer{
			SessionID: sess.ID, ItemID: it.Item.ID, Kind: labelstore.KindPractice, Class: c,
		}); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	http.Redirect(w, r, "/practice?page="+strconv.Itoa(k), http.StatusSeeOther)
}

func classSet(cs []project.Class) map[string]bool {
	m := map[string]bool{}
	for _, c := range cs {
		m[c.Name] = true
	}
	return m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

type finishView struct {
	Labelled, Bad, None, Skipped, Total int
	PerClass                            []classCount
	PracticeAnswered, PracticeCorrect   int
	PracticeTotal                       int
	Round                               *labelstore.Round
}

type classCount struct {
	Class string
	N     int
}

func (s *Server) finish(w http.ResponseWriter, r *http.Request, sess *labelstore.Session) {
	fv := finishView{}
	pages, err := s.practiceState(r, sess)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	for _, pg := range pages {
		fv.PracticeAnswered += pg.Answered
		fv.PracticeCorrect += pg.Correct
		fv.PracticeTotal += len(pg.Items)
	}
	lv, err := s.labelState(r, sess)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	fv.Round, fv.Total = lv.Round, lv.Total
	counts := map[string]int{}
	for _, e := range lv.Queue {
		a := e.Latest
		switch {
		case a == nil:
		case a.None:
			fv.None++
		case a.Skip:
			fv.Skipped++
		default:
			fv.Labelled++
			counts[a.Class]++
			if a.Bad {
				fv.Bad++
			}
		}
	}
	for _, c := range lv.Classes {
		if counts[c.Name] > 0 {
			fv.PerClass = append(fv.PerClass, classCount{c.Name, counts[c.Name]})
		}
	}
	s.render(w, r, http.StatusOK, "finish", view{Title: "Thank you", Nav: "finish", Session: sess, CSRF: sess.CSRF, Data: fv})
}

// image serves an item's file by its id only: the path comes from the
// database through project.ImagePath, which keeps it inside the image root.
func (s *Server) image(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, http.StatusNotFound, "There is no such image.")
		return
	}
	path, err := s.p.ImagePath(r.Context(), labelstore.ItemID(id))
	if err != nil {
		if !errors.Is(err, labelstore.ErrNotFound) {
			s.log.Printf("web: image %d: %v", id, err)
		}
		s.fail(w, r, http.StatusNotFound, "There is no such image.")
		return
	}
	f, err := os.Open(path)
	if err != nil {
		s.log.Printf("web: image %d: %v", id, err)
		s.fail(w, r, http.StatusNotFound, "There is no such image.")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		s.fail(w, r, http.StatusNotFound, "There is no such image.")
		return
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	ctype := http.DetectContentType(head[:n])
	// The type comes from the bytes, never from the file name, and only
	// images are served: a file that sniffs as HTML cannot run as a page.
	if len(ctype) < 6 || ctype[:6] != "image/" {
		s.fail(w, r, http.StatusUnsupportedMediaType, "That file is not an image.")
		return
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		s.internal(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "private, max-age=3600")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	http.ServeContent(w, r, "", st.ModTime().Truncate(time.Second), f)
}
