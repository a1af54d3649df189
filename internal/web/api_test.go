package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/project"
)

const apiToken = "api-token-for-tests-42"

// apiServer is a second server on the shared project with the API on and
// uploads bounded at maxUpload bytes.
func apiServer(t *testing.T, f *fixture, maxUpload int64) *httptest.Server {
	t.Helper()
	srv, err := New(f.p, Options{AdminToken: adminToken, APIToken: apiToken, APIMaxUpload: maxUpload})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.Shutdown(context.Background())
	})
	return ts
}

// upload posts data as the multipart field "image" with the given file name.
func upload(t *testing.T, url, token, filename string, data []byte) (*http.Response, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("image", filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", url+"/api/v1/classify", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// anImage returns a PNG of the project and its path as the project knows it.
func anImage(t *testing.T, f *fixture) ([]byte, string) {
	t.Helper()
	rel := "c1/" // the bag images: plain names
	ents, err := os.ReadDir(filepath.Join(f.images, "c1"))
	if err != nil || len(ents) == 0 {
		t.Fatalf("no image in the fixture: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(f.images, "c1", ents[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	return data, rel + ents[0].Name()
}

// An upload gets the probabilities the model gives the image's row in the
// project's feature file: same decoding, preprocessing and backbone.
func TestAPIClassifyMatchesTheFeatureFile(t *testing.T) {
	f := sharedProject(t)
	ts := apiServer(t, f, 0)
	data, rel := anImage(t, f)
	resp, body := upload(t, ts.URL, apiToken, "x.png", data)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST: %s %s", resp.Status, body)
	}
	var got struct {
		Predicted string
		Probs     map[string]float64
		MaxProb   float64 `json:"max_prob"`
		Entropy   float64
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	mf, err := classifier.Load(f.p.ModelPath())
	if err != nil {
		t.Fatal(err)
	}
	r, err := featstore.Open(filepath.Join(f.p.Dir(), project.FeaturesFile))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var want []float64
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if row.Path == rel {
			x := make([]float64, len(row.Features))
			for i, v := range row.Features {
				x[i] = float64(v)
			}
			want = mf.Predict(mat.NewDense(1, len(x), x)).RawRowView(0)
		}
	}
	if want == nil {
		t.Fatalf("%s is not in the project's features", rel)
	}
	worst, best := 0.0, 0
	for k, c := range mf.Model.Classes {
		worst = max(worst, math.Abs(got.Probs[c]-want[k]))
		if want[k] > want[best] {
			best = k
		}
	}
	if worst > 1e-5 {
		t.Errorf("max |p_api - p_features| = %g", worst)
	}
	if got.Predicted != mf.Model.Classes[best] || math.Abs(got.MaxProb-want[best]) > 1e-5 {
		t.Errorf("predicted %q (max_prob %g), the features say %q (%g)", got.Predicted, got.MaxProb, mf.Model.Classes[best], want[best])
	}
	if len(got.Probs) != len(mf.Model.Classes) || got.Entropy < 0 {
		t.Errorf("answer %s", body)
	}
}

func TestAPIModel(t *testing.T) {
	f := sharedProject(t)
	ts := apiServer(t, f, 0)
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/model", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct {
		Model    string
		Classes  []string
		Backbone struct{ Name, SHA256 string }
		Metrics  *struct {
			Round     int
			TestItems int `json:"test_items"`
		}
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&info) != nil {
		t.Fatalf("GET /api/v1/model: %s", resp.Status)
	}
	mf, err := classifier.Load(f.p.ModelPath())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(info.Classes, mf.Model.Classes) || info.Backbone.SHA256 != mf.Backbone.SHA256 || info.Backbone.Name == "" {
		t.Errorf("model info %+v, the model file has classes %q backbone %s", info, mf.Model.Classes, mf.Backbone.SHA256)
	}
	if filepath.Join(f.p.Dir(), info.Model) != f.p.ModelPath() {
		t.Errorf("model %q, the project's latest is %s", info.Model, f.p.ModelPath())
	}
	if info.Metrics == nil || info.Metrics.TestItems == 0 {
		t.Errorf("no metrics of the latest round: %+v", info.Metrics)
	}
}

func TestAPIRefusesBadRequests(t *testing.T) {
	f := sharedProject(t)
	const limit = 8 << 10
	ts := apiServer(t, f, limit)
	png, _ := anImage(t, f)

	// Tokens: none, wrong, and the admin's cookie, which grants nothing here.
	for _, tok := range []string{"", "wrong", apiToken + "x", strings.ToUpper(apiToken)} {
		if resp, body := upload(t, ts.URL, tok, "a.png", png); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "token") {
			t.Errorf("token %q: %s %s", tok, resp.Status, body)
		}
	}
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/model", nil)
	req.AddCookie(&http.Cookie{Name: adminCookie, Value: mac(adminToken, "winnow admin cookie")})
	req.Header.Set("Authorization", "Basic "+apiToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("cookie and a non-bearer header: %v %v", resp.Status, err)
	}
	// The API is off on a server without a token.
	if resp, body := upload(t, f.ts.URL, apiToken, "a.png", png); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "api-token") {
		t.Errorf("API off: %s %s", resp.Status, body)
	}

	big := append(slices.Clone(png), make([]byte, limit)...)
	truncated := png[:len(png)/2]
	cases := []struct {
		name   string
		data   []byte
		status int
		says   string
	}{
		{"oversized", big, http.StatusRequestEntityTooLarge, "larger than"},
		{"text", []byte("hello, this is not a picture\n"), http.StatusUnsupportedMediaType, "not an image"},
		{"empty", nil, http.StatusUnsupportedMediaType, "empty"},
		{"pdf", []byte("%PDF-1.4\n%...."), http.StatusUnsupportedMediaType, "unsupported"},
		{"truncated", truncated, http.StatusBadRequest, "image"},
	}
	for _, c := range cases {
		resp, body := upload(t, ts.URL, apiToken, c.name+".png", c.data)
		var e struct{ Error string }
		if resp.StatusCode != c.status || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, c.says) {
			t.Errorf("%s: %s %s, want %d saying %q", c.name, resp.Status, body, c.status, c.says)
		}
	}
	// Not multipart at all.
	req, _ = http.NewRequest("POST", ts.URL+"/api/v1/classify", bytes.NewReader(png))
	req.Header.Set("Content-Type", "image/png")
	req.Header.Set("Authorization", "Bearer "+apiToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("raw image body: %v %v", resp.Status, err)
	}
}

// The client's file name is never used: uploads named to climb out of any
// folder are classified and leave no file anywhere.
func TestAPIIgnoresTheFileName(t *testing.T) {
	f := sharedProject(t)
	ts := apiServer(t, f, 0)
	png, _ := anImage(t, f)
	// A private temporary folder: other processes' files in /tmp must not
	// count, and a multipart parser that spills uploads would write here.
	t.Setenv("TMPDIR", t.TempDir())
	watch := []string{f.dir, f.images, os.TempDir()}
	before := snapshot(t, watch)
	names := []string{"../../../../../../tmp/winnow-evil.png", "..\\..\\winnow-evil.png", "/tmp/winnow-evil-abs.png", "c1/../../winnow-evil.png"}
	for _, n := range names {
		resp, body := upload(t, ts.URL, apiToken, n, png)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%q: %s %s", n, resp.Status, body)
		}
	}
	for _, p := range []string{"/tmp/winnow-evil.png", "/tmp/winnow-evil-abs.png", filepath.Join(f.dir, "..", "winnow-evil.png")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	after := snapshot(t, watch)
	for p := range after {
		if !before[p] && !strings.Contains(p, "winnow.db") { // the database's journal comes and goes
			t.Errorf("new file %s after the uploads", p)
		}
	}
}

// snapshot lists the files under the project and the images, and the
// top-level entries of the temporary folder (where a multipart parser
// would spill files).
func snapshot(t *testing.T, dirs []string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for i, d := range dirs {
		if i == len(dirs)-1 {
			ents, _ := os.ReadDir(d)
			for _, e := range ents {
				out[filepath.Join(d, e.Name())] = true
			}
			continue
		}
		filepath.WalkDir(d, func(p string, _ fs.DirEntry, err error) error {
			if err == nil {
				out[p] = true
			}
			return nil
		})
	}
	return out
}

// A new model file (a round closed, or the model was recalibrated) is used
// by the next request without a restart.
func TestAPIReloadsTheModel(t *testing.T) {
	f := sharedProject(t)
	ts := apiServer(t, f, 0)
	path := f.p.ModelPath()
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	t.Cleanup(func() {
		os.WriteFile(path, orig, 0o644)
		os.Chtimes(path, st.ModTime(), st.ModTime())
	})
	png, _ := anImage(t, f)
	if resp, body := upload(t, ts.URL, apiToken, "a.png", png); resp.StatusCode != 200 || strings.Contains(body, "status") {
		t.Fatalf("before: %s %s (an uncalibrated model gives no status)", resp.Status, body)
	}
	mf, err := classifier.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	zero := 0.0 // every prediction settled
	mf.Calibration = &classifier.Calibration{TargetAccuracy: 0.5, Threshold: &zero, Rows: 1}
	if err := classifier.Save(path, mf); err != nil {
		t.Fatal(err)
	}
	later := st.ModTime().Add(2 * time.Second)
	os.Chtimes(path, later, later)
	if resp, body := upload(t, ts.URL, apiToken, "a.png", png); resp.StatusCode != 200 || !strings.Contains(body, `"status":"settled"`) {
		t.Errorf("after: %s %s", resp.Status, body)
	}
}

// A real photo among the garments the project's model knows: the API says
// how novel it is and marks it novel, whatever its probabilities; a
// garment of the project is not.
func TestAPIMarksAPhotoNovel(t *testing.T) {
	f := sharedProject(t)
	ts := apiServer(t, f, 0)
	mf, err := classifier.Load(f.p.ModelPath())
	if err != nil {
		t.Fatal(err)
	}
	if mf.NoveltyCut() <= 0 {
		t.Fatalf("the project's model %s has no novelty cut", f.p.ModelPath())
	}
	photo, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", "photos", "grace_hopper.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	garment, _ := anImage(t, f)
	type answer struct {
		MaxProb float64  `json:"max_prob"`
		Novelty *float64 `json:"novelty"`
		Status  string   `json:"status"`
	}
	get := func(data []byte) answer {
		resp, body := upload(t, ts.URL, apiToken, "x", data)
		var a answer
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &a) != nil || a.Novelty == nil {
			t.Fatalf("POST: %s %s", resp.Status, body)
		}
		return a
	}
	p, g := get(photo), get(garment)
	if p.Status != "novel" || !(*p.Novelty > mf.NoveltyCut()) {
		t.Errorf("the photo: %+v (novelty %v), cut %g: want status novel", p, *p.Novelty, mf.NoveltyCut())
	}
	if g.Status == "novel" || *g.Novelty >= *p.Novelty {
		t.Errorf("a garment of the project: status %q novelty %v, the photo's %v", g.Status, *g.Novelty, *p.Novelty)
	}
}

// The bearer scheme is case-insensitive, the token is not; a method the
// endpoint does not take gets a JSON 405 naming the one it does.
func TestAPISchemeAndMethods(t *testing.T) {
	f := sharedProject(t)
	ts := apiServer(t, f, 0)
	for _, scheme := range []string{"bearer", "BEARER", "Bearer"} {
		req, _ := http.NewRequest("GET", ts.URL+"/api/v1/model", nil)
		req.Header.Set("Authorization", scheme+" "+apiToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("scheme %q: %v %v", scheme, resp.Status, err)
		}
		resp.Body.Close()
	}
	for _, c := range []struct{ method, path, allow string }{
		{"GET", "/api/v1/classify", "POST"}, {"PUT", "/api/v1/classify", "POST"}, {"POST", "/api/v1/model", "GET"},
	} {
		req, _ := http.NewRequest(c.method, ts.URL+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error string }
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || err != nil || resp.Header.Get("Allow") != c.allow || !strings.Contains(e.Error, c.allow) {
			t.Errorf("%s %s: %s, Allow %q, %v %q", c.method, c.path, resp.Status, resp.Header.Get("Allow"), err, e.Error)
		}
	}
}
