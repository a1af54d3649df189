package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/winnowml/winnow/internal/labelstore"
)

const (
	sessionCookie = "winnow_session"
	// preCookie carries the CSRF token of the one form shown before a session
	// exists (choosing a display name): a double-submit cookie, since there
	// is no server-side session to hold the token yet.
	preCookie   = "winnow_pre"
	adminCookie = "winnow_admin"
	csrfHeader  = "X-CSRF-Token"
	maxNameLen  = 60
)

func mac(key, msg string) string {
	h := hmac.New(sha256.New, []byte(key))
	h.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather than return weak bytes)
	return base64.RawURLEncoding.EncodeToString(b)
}

// same compares secrets in constant time; an empty secret never matches.
func same(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int, site http.SameSite) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: site, Secure: r.TLS != nil,
	})
}

type ctxKey int

const sessionKey ctxKey = 0

// sessionOf returns the request's session, nil when it has none (or the
// cookie names a session the database does not know).
func (s *Server) sessionOf(r *http.Request) (*labelstore.Session, error) {
	if v := r.Context().Value(sessionKey); v != nil {
		return v.(*labelstore.Session), nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, nil
	}
	// Sessions never change once made, so the answer path, which runs on
	// every key press, need not read the same row again and again.
	if v, ok := s.sessions.Load(c.Value); ok {
		return v.(*labelstore.Session), nil
	}
	sess, err := s.store.SessionByToken(r.Context(), c.Value)
	if errors.Is(err, labelstore.ErrNotFound) {
		return nil, nil
	}
	if err == nil {
		if s.nsessions.Add(1) > maxCachedSessions { // bounded: start afresh
			s.sessions.Clear()
			s.nsessions.Store(0)
		}
		s.sessions.Store(c.Value, sess)
	}
	return sess, err
}

const maxCachedSessions = 10000

// participant wraps a page that needs a session: without one the visitor is
// sent to the About page to start one; a POST must carry the session's CSRF
// token (form field or header).
func (s *Server) participant(h func(http.ResponseWriter, *http.Request, *labelstore.Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.sessionOf(r)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if sess == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/?start=1", http.StatusSeeOther)
				return
			}
			s.fail(w, r, http.StatusForbidden, "Your session has ended. Open the start page to begin again.")
			return
		}
		if r.Method == http.MethodPost && !s.checkCSRF(w, r, sess.CSRF) {
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), sessionKey, sess)), sess)
	}
}

// preToken returns the pre-session CSRF token, setting its cookie if needed.
func preToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(preCookie); err == nil && len(c.Value) >= 40 && len(c.Value) <= 50 {
		return c.Value
	}
	t := randomToken()
	setCookie(w, r, preCookie, t, 0, http.SameSiteStrictMode)
	return t
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	c, err := r.Cookie(preCookie)
	if err != nil || !same(r.PostForm.Get("csrf"), c.Value) {
		s.fail(w, r, http.StatusForbidden, "This form has expired. Go back, reload the page and try again.")
		return
	}
	name := cleanName(r.PostForm.Get("name"))
	sess, err := s.store.NewSession(r.Context(), name)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	// Lax, not Strict: a participant following a link to the site from mail
	// must arrive signed in. A year: people come back for later rounds.
	setCookie(w, r, sessionCookie, sess.Token, 365*24*3600, http.SameSiteLaxMode)
	setCookie(w, r, preCookie, "", -1, http.SameSiteStrictMode)
	http.Redirect(w, r, "/learn", http.StatusSeeOther)
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request, _ *labelstore.Session) {
	setCookie(w, r, sessionCookie, "", -1, http.SameSiteLaxMode)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// cleanName keeps a display name printable and short; escaping on output is
// what makes it safe, this only keeps the tables tidy.
func cleanName(n string) string {
	n = strings.Join(strings.Fields(n), " ")
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, n)
	if r := []rune(n); len(r) > maxNameLen {
		n = string(r[:maxNameLen])
	}
	return n
}

// admin wraps the admin pages. The token arrives once as ?token= (the URL
// `winnow serve` prints) and is swapped for an HttpOnly cookie, and the
// browser is redirected to the URL without it, so the token does not stay in
// the address bar or the history. POSTs need the admin CSRF token.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if t := r.URL.Query().Get("token"); t != "" && r.Method == http.MethodGet {
			if !same(t, s.opt.AdminToken) {
				s.fail(w, r, http.StatusForbidden, "That admin token is not valid.")
				return
			}
			setCookie(w, r, adminCookie, s.adminCookie, 0, http.SameSiteStrictMode)
			q := r.URL.Query()
			q.Del("token")
			u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return
		}
		c, err := r.Cookie(adminCookie)
		if err != nil || !same(c.Value, s.adminCookie) {
			s.fail(w, r, http.StatusForbidden, "The admin pages need the admin URL that `winnow serve` printed.")
			return
		}
		if r.Method == http.MethodPost && !s.checkCSRF(w, r, s.adminCSRF) {
			return
		}
		h(w, r)
	}
}

// checkCSRF parses a POST's form and compares its token (the header a
// fetch sends, else the form field) with want in constant time; on a
// mismatch it answers 403 and returns false.
func (s *Server) checkCSRF(w http.ResponseWriter, r *http.Request, want string) bool {
	if !s.parseForm(w, r) {
		return false
	}
	tok := r.Header.Get(csrfHeader)
	if tok == "" {
		tok = r.PostForm.Get("csrf")
	}
	if !same(tok, want) {
		s.fail(w, r, http.StatusForbidden, "This form has expired. Go back, reload the page and try again.")
		return false
	}
	return true
}
