package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/classify"
	"github.com/winnowml/winnow/internal/imageio"
)

// The prediction API: POST /api/v1/classify takes one image (multipart
// field "image") and answers with the latest model's prediction; GET
// /api/v1/model describes that model. Both want the API token as
// "Authorization: Bearer TOKEN" and nothing else: no cookie grants them, so a
// page on another site cannot make a signed-in browser call them, and no
// CSRF token is needed.

const (
	apiClassifyPath = "/api/v1/classify"
	// DefaultAPIMaxUpload bounds an upload when Options.APIMaxUpload is 0:
	// a large phone photo fits with room to spare.
	DefaultAPIMaxUpload = 20 << 20
	// apiMaxPixels is featurize's default --max-pixels: a decompression
	// bomb is refused from its header.
	apiMaxPixels = 100_000_000
)

// apiState is the loaded model and its open backbone session. The session
// is opened once and reused while the backbone stays the same file; a new
// model (a round was closed, here or by `winnow round close`) is loaded on
// the next request that sees it.
type apiState struct {
	mu      sync.Mutex
	path    string    // model file loaded
	modTime time.Time // its modification time when loaded
	single  *classify.Single
	session *backbone.Model
	bbSHA   string
	// run is held for each inference call on session, by every Single
	// made for it, and to close it.
	run sync.Mutex
}

// bodyLimit is the size bound of a request body: uploads to the API get
// theirs, every other request the site's small one.
func (s *Server) bodyLimit(r *http.Request) int64 {
	if r.URL.Path == apiClassifyPath {
		return s.apiMaxUpload()
	}
	return maxBody
}

func (s *Server) apiMaxUpload() int64 {
	if s.opt.APIMaxUpload > 0 {
		return s.opt.APIMaxUpload
	}
	return DefaultAPIMaxUpload
}

func (s *Server) apiRoutes() {
	s.mux.HandleFunc("POST "+apiClassifyPath, s.apiAuth(s.apiClassify))
	s.mux.HandleFunc("GET /api/v1/model", s.apiAuth(s.apiModel))
	// Any other method: a JSON 405 a program can read, not the mux's
	// plain-text page.
	s.mux.HandleFunc(apiClassifyPath, apiMethod("POST"))
	s.mux.HandleFunc("/api/v1/model", apiMethod("GET"))
}

func apiMethod(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		apiFail(w, http.StatusMethodNotAllowed, "%s %s: this endpoint takes %s", r.Method, r.URL.Path, allow)
	}
}

type apiError struct {
	Error string `json:"error"`
}

func apiJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

func apiFail(w http.ResponseWriter, status int, format string, args ...any) {
	apiJSON(w, status, apiError{fmt.Sprintf(format, args...)})
}

// apiAuth admits requests carrying the API token. Both sides are hashed
// before the constant-time comparison, so neither the token's bytes nor its
// length show in the response time.
func (s *Server) apiAuth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opt.APIToken == "" {
			apiFail(w, http.StatusNotFound, "the prediction API is off: start winnow serve with --api-token or $WINNOW_API_TOKEN")
			return
		}
		// The scheme is case-insensitive (RFC 9110 section 11.1); the
		// token is not.
		scheme, got, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		ok = ok && strings.EqualFold(scheme, "Bearer")
		want := sha256.Sum256([]byte(s.opt.APIToken))
		have := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || subtle.ConstantTimeCompare(want[:], have[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="winnow api"`)
			apiFail(w, http.StatusUnauthorized, "missing or wrong API token: send the header Authorization: Bearer TOKEN")
			return
		}
		h(w, r)
	}
}

// current returns the single-image classifier of the project's latest
// model, loading it (and opening the backbone, once) when the model file
// changed. ok false has written the error response.
func (s *Server) current(w http.ResponseWriter) (*classify.Single, string, bool) {
	a := &s.api
	a.mu.Lock()
	defer a.mu.Unlock()
	path := s.p.ModelPath()
	if path == "" {
		apiFail(w, http.StatusServiceUnavailable, "the project has no model yet")
		return nil, "", false
	}
	st, err := os.Stat(path)
	if err != nil {
		s.log.Printf("web: api: model %s: %v", path, err)
		apiFail(w, http.StatusServiceUnavailable, "the model file cannot be read")
		return nil, "", false
	}
	if a.single != nil && path == a.path && st.ModTime().Equal(a.modTime) {
		return a.single, a.path, true
	}
	if err := s.loadModel(path, st.ModTime()); err != nil {
		s.log.Printf("web: api: loading %s: %v", path, err)
		apiFail(w, http.StatusServiceUnavailable, "the model could not be loaded (the server log says why)")
		return nil, "", false
	}
	return a.single, a.path, true
}

// loadModel loads path; s.api.mu is held.
func (s *Server) loadModel(path string, mod time.Time) error {
	a := &s.api
	mf, err := classifier.Load(path)
	if err != nil {
		return err
	}
	// The project's backbone setting names the file (a path, for a
	// backbone that is not built in); the model's recorded name is the
	// fallback. Either way its sha256 must be the model's.
	bb, err := classify.ResolveBackbone(mf, path, s.p.Config().Backbone)
	if err != nil {
		if bb, err = classify.ResolveBackbone(mf, path, ""); err != nil {
			return err
		}
	}
	if a.session == nil || a.bbSHA != mf.Backbone.SHA256 {
		if err := backbone.Init(s.opt.ORTLib); err != nil {
			return err
		}
		m, err := backbone.OpenData(bb.Data, bb.Where, bb.Spec, backbone.Options{Threads: 1})
		if err != nil {
			return err
		}
		// An old session is left open, not closed: a request may hold a
		// Single made for it. A project keeps one backbone, so this
		// happens only if its backbone file was replaced.
		a.session, a.bbSHA = m, mf.Backbone.SHA256
	}
	single := &classify.Single{Model: mf, Backbone: a.session, Resize: bb.Resize, MaxPixels: apiMaxPixels, Lock: &a.run}
	if mf.Calibration != nil {
		single.Cut = classify.FromCalibration(mf.Calibration, mf.Model.Classes)
	}
	a.single, a.path, a.modTime = single, path, mod
	return nil
}

// closeAPI releases the backbone session.
func (s *Server) closeAPI() {
	a := &s.api
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.session != nil {
		a.run.Lock()
		a.session.Close()
		a.run.Unlock()
		a.session, a.single = nil, nil
	}
}

func (s *Server) apiClassify(w http.ResponseWriter, r *http.Request) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		apiFail(w, http.StatusUnsupportedMediaType, "send the image as multipart/form-data in a field named \"image\"")
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		apiFail(w, http.StatusBadRequest, "the multipart body cannot be read: %v", err)
		return
	}
	// The parts are read into memory, never to disk (ParseMultipartForm
	// would spill large files to temporary files), and the client's file
	// name is never used: a name like ../../x.png has nowhere to go.
	var data []byte
	for data == nil {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.apiReadError(w, err)
			return
		}
		if part.FormName() != "image" {
			if _, err := io.Copy(io.Discard, part); err != nil {
				s.apiReadError(w, err)
				return
			}
			continue
		}
		b, err := io.ReadAll(part)
		if err != nil {
			s.apiReadError(w, err)
			return
		}
		data = b
	}
	if data == nil {
		apiFail(w, http.StatusBadRequest, "no field named \"image\" in the form")
		return
	}
	single, _, ok := s.current(w)
	if !ok {
		return
	}
	res, err := single.Classify(data)
	if err != nil {
		switch {
		case errors.Is(err, imageio.ErrTooLarge):
			apiFail(w, http.StatusRequestEntityTooLarge, "%v", err)
		case errors.Is(err, imageio.ErrEmpty), errors.Is(err, imageio.ErrUnsupported),
			errors.Is(err, imageio.ErrNotImage) && !errors.Is(err, imageio.ErrCorrupt):
			apiFail(w, http.StatusUnsupportedMediaType, "%v (send a JPEG, PNG, GIF, BMP, TIFF or WebP image)", err)
		case errors.Is(err, classify.ErrBadImage):
			apiFail(w, http.StatusBadRequest, "%v", err)
		default:
			s.log.Printf("web: api: classify: %v", err)
			apiFail(w, http.StatusInternalServerError, "the image could not be classified (the server log says why)")
		}
		return
	}
	apiJSON(w, http.StatusOK, res)
}

func (s *Server) apiReadError(w http.ResponseWriter, err error) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		apiFail(w, http.StatusRequestEntityTooLarge, "the upload is larger than %d bytes", s.apiMaxUpload())
		return
	}
	apiFail(w, http.StatusBadRequest, "the multipart body cannot be read: %v", err)
}

type apiBackbone struct {
	Name       string `json:"name"`
	SHA256     string `json:"sha256"`
	Dim        int    `json:"dim"`
	Preprocess string `json:"preprocess"`
}

type apiMetrics struct {
	Round     int      `json:"round"`
	Labels    int      `json:"labels"`
	TestItems int      `json:"test_items"`
	Accuracy  *float64 `json:"accuracy"`
	LogLoss   *float64 `json:"log_loss"`
	MacroAUC  *float64 `json:"macro_auc"`
}

type apiModelInfo struct {
	Model       string                  `json:"model"`
	Classes     []string                `json:"classes"`
	Backbone    apiBackbone             `json:"backbone"`
	Metrics     *apiMetrics             `json:"metrics"`
	Calibration *classifier.Calibration `json:"calibration"`
}

func (s *Server) apiModel(w http.ResponseWriter, r *http.Request) {
	single, path, ok := s.current(w)
	if !ok {
		return
	}
	mf := single.Model
	info := apiModelInfo{Classes: mf.Model.Classes, Calibration: mf.Calibration,
		Backbone: apiBackbone{mf.Backbone.Name, mf.Backbone.SHA256, mf.Backbone.Dim, mf.Backbone.Preprocess}}
	if rel, err := filepath.Rel(s.p.Dir(), path); err == nil {
		info.Model = filepath.ToSlash(rel)
	}
	ms, err := s.store.Metrics(r.Context())
	if err != nil {
		s.log.Printf("web: api: metrics: %v", err)
		apiFail(w, http.StatusInternalServerError, "the metrics cannot be read")
		return
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if m := ms[i]; m.Model != "" && filepath.ToSlash(m.Model) == info.Model {
			info.Metrics = &apiMetrics{Round: m.Round, Labels: m.Labels, TestItems: m.TestItems,
				Accuracy: finite(m.Accuracy), LogLoss: finite(m.LogLoss), MacroAUC: finite(m.MacroAUC)}
			break
		}
	}
	apiJSON(w, http.StatusOK, info)
}

func finite(v float64) *float64 {
	if v != v || v > 1e308 || v < -1e308 {
		return nil
	}
	return &v
}
