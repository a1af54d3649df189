// Package web is winnow's labelling website: it translates HTTP into the
// operations of package project (sessions, answers, closing a round) and
// renders server-side templates. It holds no SQL and no model code; every
// asset is embedded, so the binary serves the site offline.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/project"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// maxBody bounds every request body. The largest legitimate one is a practice
// page or the examples form: a few hundred short fields.
const maxBody = 64 << 10

// Options configures a Server.
type Options struct {
	// AdminToken grants the admin pages. Required: an empty token would
	// leave the exports open to anyone who can reach the port.
	AdminToken string
	// Log receives request errors; nil logs to the standard logger.
	Log *log.Logger
	// APIToken turns on the prediction API (api.go); "" leaves it off.
	// APIMaxUpload bounds an upload (0: DefaultAPIMaxUpload); ORTLib is
	// the --ort-lib flag, for the API's backbone.
	APIToken     string
	APIMaxUpload int64
	ORTLib       string
}

// Server is the labelling website of one project.
type Server struct {
	p     *project.Project
	store *labelstore.Store
	opt   Options
	tmpl  *template.Template
	mux   *http.ServeMux
	log   *log.Logger

	passed    sync.Map     // session id -> true once its practice is passed
	sessions  sync.Map     // cookie value -> *labelstore.Session
	nsessions atomic.Int64 // entries added to sessions since it was last cleared

	adminCookie string // derived from the token, so a restart keeps admins signed in
	adminCSRF   string

	// ctx ends background work (closing a round) on Shutdown.
	ctx    context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup

	closeMu   sync.Mutex
	closing   bool
	closeErr  string    // of the last close started here, "" if it succeeded
	closedAt  time.Time // when the last close started here ended
	lastRound int       // the round number that close opened

	api apiState
}

// New builds the site for p.
func New(p *project.Project, opt Options) (*Server, error) {
	if opt.AdminToken == "" {
		return nil, errors.New("web: an admin token is required")
	}
	tmpl, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	s := &Server{p: p, store: p.Store(), opt: opt, tmpl: tmpl, mux: http.NewServeMux(), log: opt.Log}
	if s.log == nil {
		s.log = log.Default()
	}
	s.adminCookie = mac(opt.AdminToken, "winnow admin cookie")
	s.adminCSRF = mac(opt.AdminToken, "winnow admin csrf")
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.routes()
	s.resumeClose()
	return s, nil
}

var funcs = template.FuncMap{
	"add": func(a, b int) int { return a + b },
	"pct": func(a, b int) int {
		if b == 0 {
			return 0
		}
		return 100 * a / b
	},
	"num": func(v float64) string {
		if v != v { // NaN: a metric the round could not compute
			return "–"
		}
		return strconv.FormatFloat(v, 'f', 3, 64)
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"seq": func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i + 1
		}
		return out
	},
	"pct1":   func(v float64) string { return strconv.FormatFloat(100*v, 'f', -1, 64) },
	"answer": answerText,
	"key":    classKey,
}

func (s *Server) routes() {
	m := s.mux
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)
	m.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(24*time.Hour, files)))
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /{$}", s.about)
	m.HandleFunc("POST /session", s.startSession)
	m.HandleFunc("POST /session/end", s.participant(s.endSession))
	m.HandleFunc("GET /learn", s.learn)
	m.HandleFunc("GET /practice", s.participant(s.practice))
	m.HandleFunc("POST /practice", s.participant(s.practiceSubmit))
	m.HandleFunc("GET /label", s.participant(s.label))
	m.HandleFunc("POST /label", s.participant(s.labelSubmit))
	m.HandleFunc("POST /label/undo", s.participant(s.labelUndo))
	m.HandleFunc("GET /api/queue", s.participant(s.apiQueue))
	m.HandleFunc("GET /finish", s.participant(s.finish))
	m.HandleFunc("GET /img/{id}", s.image)

	m.HandleFunc("GET /admin", s.admin(s.adminHome))
	m.HandleFunc("POST /admin/close", s.admin(s.adminClose))
	m.HandleFunc("GET /admin/progress", s.admin(s.adminProgress))
	m.HandleFunc("GET /admin/examples", s.admin(s.adminExamples))
	m.HandleFunc("POST /admin/examples", s.admin(s.adminExamplesSubmit))
	m.HandleFunc("GET /admin/export/answers.csv", s.admin(s.exportAnswers))
	m.HandleFunc("GET /admin/export/consensus.csv", s.admin(s.exportConsensus))
	m.HandleFunc("GET /admin/export/model", s.admin(s.exportModel))
	m.HandleFunc("GET /admin/report/{n}", s.admin(s.adminReport))
	m.HandleFunc("GET /admin/curve.svg", s.admin(s.adminCurve))
	m.HandleFunc("GET /admin/assess", s.admin(s.adminAssess))
	m.HandleFunc("POST /admin/assess/models", s.admin(s.adminAssessModels))
	m.HandleFunc("GET /admin/assess/chart.svg", s.admin(s.adminAssessChart))
	m.HandleFunc("GET /admin/assess.css", s.admin(s.adminAssessCSS))
	s.apiRoutes()
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "There is no page here.")
	})
}

// Handler is the site with its middleware: security headers, bounded
// bodies, and a plain error page instead of a crash or a stack trace.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "+
			"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// The admin URL carries the token once; no page should leak its URL.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.bodyLimit(r))
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Printf("web: panic serving %s %s: %v\n%s", r.Method, r.URL.Path, v, debug.Stack())
				s.fail(w, r, http.StatusInternalServerError, "Something went wrong on the server.")
			}
		}()
		s.mux.ServeHTTP(w, r)
	})
}

// HTTPServer returns an http.Server for the site with a timeout on every
// phase, so a slow or stalled client cannot hold connections forever.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       20 * time.Second,
		// The model export is the longest response; it is a few megabytes at most.
		WriteTimeout:   60 * time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 32 << 10,
		ErrorLog:       s.log,
	}
}

// Shutdown stops background work (a round being closed is cancelled through
// its context) and waits for it, bounded by ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.cancel()
	done := make(chan struct{})
	go func() { s.bg.Wait(); close(done) }()
	select {
	case <-done:
		s.closeAPI()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	// Touching the database makes this a real readiness check for the kill test.
	if _, err := s.store.CurrentRound(r.Context()); err != nil && !errors.Is(err, labelstore.ErrNotFound) {
		s.fail(w, r, http.StatusServiceUnavailable, "The database is not available.")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// view is what every page template gets.
type view struct {
	Title   string
	Project string
	Nav     string
	Session *labelstore.Session
	CSRF    string
	Admin   bool
	Notice  string // information: the state of things
	Success string // something the user did worked
	Warn    string // a refusal: the request was fine, the answer is no
	Error   string // something failed
	Data    any
}

// render executes a page into a buffer first, so a template error becomes a
// clean 500 instead of half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	if v.Project == "" {
		v.Project = s.p.Config().Title
		if v.Project == "" {
			v.Project = "winnow"
		}
	}
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, v); err != nil {
		s.log.Printf("web: rendering %s: %v", name, err)
		s.fail(w, r, http.StatusInternalServerError, "Something went wrong on the server.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Pages show a participant's own answers; shared caches must not keep them.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

// fail writes a plain error page: the status, one sentence, a way back;
// to a script that asked for JSON, the sentence as {"error": ...}.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if wantsJSON(r) {
		w.Header().Del("Content-Length")
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(status)
	var buf bytes.Buffer
	err := s.tmpl.ExecuteTemplate(&buf, "error", struct {
		Status  int
		Text    string
		Message string
	}{status, http.StatusText(status), msg})
	if err != nil {
		fmt.Fprintf(w, "%d %s\n", status, template.HTMLEscapeString(http.StatusText(status)))
		return
	}
	buf.WriteTo(w)
}

// internal logs err and shows a generic 500: details stay in the log.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Printf("web: %s %s: %v", r.Method, r.URL.Path, err)
	s.fail(w, r, http.StatusInternalServerError, "Something went wrong on the server.")
}

// parseForm reads a bounded form body; too large a body is a 413.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.fail(w, r, http.StatusRequestEntityTooLarge, "That request was too large.")
		} else {
			s.fail(w, r, http.StatusBadRequest, "That request could not be read.")
		}
		return false
	}
	return true
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}
