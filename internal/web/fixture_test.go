package web

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/winnowml/winnow/internal/fmnist"
	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/project"
	"github.com/winnowml/winnow/internal/web/webclient"
)

// Hostile names: they reach the pages through the project's classes, the
// participants' display names, the image file names and the about text.
const (
	xssClass = `<script>alert("class")</script>`
	xssName  = `<img src=x onerror=alert("name")>`
	xssFile  = `"><svg onload=alert(1)>.png`
	xssAbout = "# Welcome <b>bold</b>\n\nClick <script>alert('about')</script> [here](javascript:alert(1)) or [docs](https://example.org/?a=\"x\")."
)

const adminToken = "test-admin-token-0123456789"

// fmnistClasses maps the project's class names to Fashion-MNIST label ids.
var fmnistClasses = []struct {
	name  string
	label uint8
}{{"trouser", 1}, {"bag", 8}, {xssClass, 7}}

type fixture struct {
	dir    string
	images string
	p      *project.Project
	srv    *Server
	ts     *httptest.Server
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

// sharedProject builds one real project (real PNGs from Debian's
// Fashion-MNIST, featurized by the default backbone, SQLite store) for all
// the tests of the package: featurizing is the slow part.
func sharedProject(t *testing.T) *fixture {
	t.Helper()
	if !fmnist.Available(fmnist.Dir) {
		t.Skip("dataset-fashion-mnist is not installed (make deps installs it)")
	}
	fixOnce.Do(func() { fix, fixErr = buildFixture() })
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

// ownProject builds a project for one test that changes it (closes a
// round, adds participants), removed when the test ends.
func ownProject(t *testing.T) *fixture {
	t.Helper()
	sharedProject(t) // skips without Fashion-MNIST
	f, err := buildFixture()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.ts.Close()
		f.p.Close()
		os.RemoveAll(filepath.Dir(f.dir))
	})
	return f
}

func buildFixture() (*fixture, error) {
	root, err := os.MkdirTemp("", "winnow-web-test")
	if err != nil {
		return nil, err
	}
	f := &fixture{dir: filepath.Join(root, "proj"), images: filepath.Join(root, "images")}
	set, err := fmnist.Load(fmnist.Dir, "t10k", 600)
	if err != nil {
		return nil, err
	}
	gold, err := os.Create(filepath.Join(root, "gold.csv"))
	if err != nil {
		return nil, err
	}
	w := csv.NewWriter(gold)
	w.Write([]string{"path", "label"})
	per := map[uint8]int{}
	for i, l := range set.Labels {
		for k, c := range fmnistClasses {
			if c.label != l || per[l] >= 12 {
				continue
			}
			name := fmt.Sprintf("c%d/%04d.png", k, i)
			if k == 0 && per[l] == 0 {
				name = "c0/" + xssFile
			}
			if err := set.WritePNG(i, filepath.Join(f.images, filepath.FromSlash(name))); err != nil {
				return nil, err
			}
			if per[l] < 6 {
				w.Write([]string{name, c.name})
			}
			per[l]++
		}
	}
	w.Flush()
	gold.Close()
	var classes []project.Class
	for _, c := range fmnistClasses {
		classes = append(classes, project.Class{Name: c.name, Description: "Looks like a " + c.name + "."})
	}
	p, err := project.Init(context.Background(), f.dir, project.InitOptions{
		Images: f.images, Classes: classes, Gold: filepath.Join(root, "gold.csv"),
		Title: "Test <project>", About: xssAbout, Batch: 6, Log: io.Discard,
		// Small pages, so the gate test has two of them.
		PracticePageSize: 5,
	})
	if err != nil {
		return nil, fmt.Errorf("project.Init: %w", err)
	}
	f.p = p
	if f.srv, err = New(p, Options{AdminToken: adminToken}); err != nil {
		return nil, err
	}
	f.ts = httptest.NewServer(f.srv.Handler())
	return f, nil
}

// client is one browser: a cookie jar that does not follow redirects, so a
// test sees each 303 and where it points.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (f *fixture) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: f.ts.URL, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (c *client) do(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// start opens a session with the given display name, as the About page's
// form does, and returns the session's CSRF token.
func (c *client) start(name string) string {
	c.t.Helper()
	_, body := c.get("/")
	m := webclient.CSRFField.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatal("no CSRF field on the start page")
	}
	resp, _ := c.post("/session", url.Values{"csrf": {m[1]}, "name": {name}})
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("POST /session: %s", resp.Status)
	}
	_, body = c.get("/practice")
	if m = webclient.CSRFField.FindStringSubmatch(body); m == nil {
		c.t.Fatal("no CSRF field on the practice page")
	}
	return m[1]
}

// passPractice answers every practice page with the gold answers.
func (c *client) passPractice(f *fixture, csrf string) {
	c.t.Helper()
	items, err := f.p.Store().PracticeItems(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	size := f.p.Config().Practice.PageSize
	for page := 0; page*size < len(items); page++ {
		form := url.Values{"csrf": {csrf}, "page": {fmt.Sprint(page + 1)}}
		for _, it := range items[page*size : min((page+1)*size, len(items))] {
			form.Set(fmt.Sprintf("item-%d", it.ID), it.Gold)
		}
		if resp, body := c.post("/practice", form); resp.StatusCode != http.StatusSeeOther {
			c.t.Fatalf("practice page %d: %s %s", page+1, resp.Status, body)
		}
	}
}

func (f *fixture) round(t *testing.T) *labelstore.Round {
	t.Helper()
	r, err := f.p.Store().CurrentRound(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}
