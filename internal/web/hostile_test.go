package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/web/webclient"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fix != nil {
		fix.ts.Close()
		fix.p.Close()
		os.RemoveAll(filepath.Dir(fix.dir))
	}
	os.Exit(code)
}

func TestImagesOnlyByIDInsideTheRoot(t *testing.T) {
	f := sharedProject(t)
	c := f.client(t)
	r := f.round(t)
	resp, body := c.get(fmt.Sprintf("/img/%d", r.Picks[0]))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(body, "\x89PNG") {
		t.Fatalf("a pick's image: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("image served without nosniff")
	}
	for _, p := range []string{
		"/img/..%2f..%2f..%2fetc%2fpasswd", "/img/../../etc/passwd", "/img/%2e%2e/winnow.db", "/img/0", "/img/-1",
		"/img/999999999", "/img/1e3", "/img/" + url.PathEscape(f.images+"/c0/0002.png"), "/img/1;/etc/passwd",
	} {
		resp, body := c.get(p)
		if resp.StatusCode == 200 || strings.Contains(body, "root:") || strings.HasPrefix(body, "\x89PNG") || strings.HasPrefix(body, "SQLite") {
			t.Errorf("GET %s: %s, %d bytes served", p, resp.Status, len(body))
		}
	}

	// A file swapped for a symlink that leaves the image root, and one
	// swapped for HTML: neither is served.
	items, err := f.p.Store().Items(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var victims []labelstore.Item
	for _, it := range items {
		if it.Role == labelstore.RolePool && !contains(r.Picks, it.ID) {
			victims = append(victims, it)
		}
	}
	outside := filepath.Join(filepath.Dir(f.dir), "outside.png")
	first := filepath.Join(f.images, filepath.FromSlash(victims[0].Path))
	data, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(outside, data, 0o644); err != nil {
		t.Fatal(err)
	}
	swap(t, first, func() error { return os.Symlink(outside, first) })
	if resp, _ := c.get(fmt.Sprintf("/img/%d", victims[0].ID)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("image symlinked out of the root: %s", resp.Status)
	}
	second := filepath.Join(f.images, filepath.FromSlash(victims[1].Path))
	swap(t, second, func() error {
		return os.WriteFile(second, []byte("<html><script>alert(1)</script></html>"), 0o644)
	})
	resp, body = c.get(fmt.Sprintf("/img/%d", victims[1].ID))
	if resp.StatusCode != http.StatusUnsupportedMediaType || strings.Contains(body, "alert(1)") ||
		strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") {
		t.Errorf("HTML in an image's place: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
}

// swap replaces path for the rest of the test and puts it back afterwards.
func swap(t *testing.T, path string, replace func() error) {
	t.Helper()
	keep := path + ".keep"
	if err := os.Rename(path, keep); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path); os.Rename(keep, path) })
	if err := replace(); err != nil {
		t.Fatal(err)
	}
}

func contains(ids []labelstore.ItemID, id labelstore.ItemID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func TestCSRF(t *testing.T) {
	f := sharedProject(t)
	r := f.round(t)
	a, b := f.client(t), f.client(t)

	// The start form: no pre-session cookie, or a token that is not its value.
	if resp, _ := a.post("/session", url.Values{"name": {"x"}, "csrf": {"forged"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("start without the form's token: %s", resp.Status)
	}
	a.get("/")
	if resp, _ := a.post("/session", url.Values{"name": {"x"}, "csrf": {"forged"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("start with a wrong token: %s", resp.Status)
	}

	ta := a.start("alice")
	tb := b.start("bob")
	a.passPractice(f, ta)
	answer := func(tok string) url.Values {
		return url.Values{"csrf": {tok}, "round": {fmt.Sprint(r.ID)}, "item": {fmt.Sprint(r.Picks[0])}, "class": {"bag"}}
	}
	for name, form := range map[string]url.Values{
		"missing": func() url.Values { v := answer(""); v.Del("csrf"); return v }(),
		"empty":   answer(""),
		"wrong":   answer(ta[:len(ta)-2] + "xx"),
		"bob's":   answer(tb),
	} {
		if resp, _ := a.post("/label", form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("answer with a %s token: %s", name, resp.Status)
		}
	}
	if resp, _ := a.post("/label/undo", url.Values{"csrf": {tb}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("undo with another session's token: %s", resp.Status)
	}
	q, err := f.p.Store().Queue(context.Background(), sessionID(t, f, a), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range q {
		if e.Latest != nil {
			t.Fatalf("an answer was stored from a forged request: %+v", e.Latest)
		}
	}
	// The header works as well as the form field (the admin page's fetch uses it).
	req, _ := http.NewRequest("POST", a.base+"/label", strings.NewReader(answer("").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(csrfHeader, ta)
	req.Header.Set("Accept", "application/json")
	if resp, body := a.do(req); resp.StatusCode != 200 || !strings.Contains(body, `"saved":true`) {
		t.Errorf("answer with the token in the header: %s %s", resp.Status, body)
	}
}

func sessionID(t *testing.T, f *fixture, c *client) int64 {
	t.Helper()
	u, _ := url.Parse(c.base)
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			s, err := f.p.Store().SessionByToken(context.Background(), ck.Value)
			if err != nil {
				t.Fatal(err)
			}
			return s.ID
		}
	}
	t.Fatal("no session cookie")
	return 0
}

func TestAdminNeedsTheToken(t *testing.T) {
	f := sharedProject(t)
	c := f.client(t)
	paths := []string{"/admin", "/admin/export/answers.csv", "/admin/export/consensus.csv", "/admin/export/model",
		"/admin/progress", "/admin/examples", "/admin/curve.svg", "/admin/report/1",
		"/admin/assess", "/admin/assess/chart.svg", "/admin/assess.css"}
	for _, p := range paths {
		if resp, body := c.get(p); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "participant,") {
			t.Errorf("GET %s without the token: %s", p, resp.Status)
		}
		if resp, _ := c.get(p + "?token=" + adminToken[:len(adminToken)-1] + "X"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s with a wrong token: %s", p, resp.Status)
		}
	}
	// A forged cookie: the token itself, or garbage.
	u, _ := url.Parse(c.base)
	for _, v := range []string{adminToken, "x", ""} {
		c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: adminCookie, Value: v, Path: "/"}})
		if resp, _ := c.get("/admin"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("admin cookie %q: %s", v, resp.Status)
		}
	}
	for _, p := range []string{"/admin/close", "/admin/examples", "/admin/assess/models"} {
		if resp, _ := c.post(p, url.Values{}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without the token: %s", p, resp.Status)
		}
	}

	resp, _ := c.get("/admin?token=" + adminToken)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin" {
		t.Fatalf("admin login: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{adminCookie + "=", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(sc, want) {
			t.Errorf("admin cookie %q lacks %s", sc, want)
		}
	}
	if strings.Contains(sc, adminToken) {
		t.Error("the admin cookie carries the token itself")
	}
	resp, body := c.get("/admin")
	if resp.StatusCode != 200 || !strings.Contains(body, "Close round") {
		t.Fatalf("admin page with the cookie: %s", resp.Status)
	}
	// Signed in, a POST still needs the admin CSRF token.
	if resp, _ := c.post("/admin/close", url.Values{"csrf": {"nope"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("close with a wrong CSRF token: %s", resp.Status)
	}
	if resp, _ := c.post("/admin/examples", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("examples without a CSRF token: %s", resp.Status)
	}
	resp, body = c.get("/admin/export/answers.csv")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "participant,session,item") {
		t.Errorf("answers export: %s %.80q", resp.Status, body)
	}
}

func TestEverythingRenderedIsEscaped(t *testing.T) {
	f := sharedProject(t)
	c := f.client(t)
	tok := c.start(xssName)
	c.passPractice(f, tok)
	r := f.round(t)
	for _, id := range r.Picks {
		resp, _ := c.post("/label", url.Values{"csrf": {tok}, "round": {fmt.Sprint(r.ID)}, "item": {fmt.Sprint(id)}, "class": {xssClass}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("answer %s", resp.Status)
		}
	}
	admin := f.client(t)
	admin.get("/admin?token=" + adminToken)
	// The file with the hostile name is a gold item: make it an example so
	// the Learn page shows it too.
	items, _ := f.p.Store().Items(context.Background())
	var hostile labelstore.Item
	for _, it := range items {
		if strings.HasSuffix(it.Path, xssFile) {
			hostile = it
		}
	}
	if hostile.ID == 0 {
		t.Fatal("the item with the hostile file name was not registered")
	}
	f.p.Store().SetExamples(context.Background(), xssClass, []labelstore.ItemID{hostile.ID})

	pages := map[string]*client{"/": c, "/learn": c, "/practice?page=1": c, "/label": c, "/finish": c,
		"/admin": admin, "/admin/examples": admin}
	raw := []string{xssClass, xssName, "<script>alert('about')</script>", `<svg onload=alert(1)>`, `href="javascript`, "<b>bold</b>", "<project>"}
	for p, cl := range pages {
		resp, body := cl.get(p)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %s", p, resp.Status)
			continue
		}
		for _, bad := range raw {
			if strings.Contains(body, bad) {
				t.Errorf("GET %s: %q appears unescaped", p, bad)
			}
		}
	}
	_, body := c.get("/")
	for _, want := range []string{"&lt;script&gt;alert(&#39;about&#39;)&lt;/script&gt;", `<a href="https://example.org/?a=&#34;x&#34;" rel="noopener noreferrer">docs</a>`, "<h2>Welcome &lt;b&gt;bold&lt;/b&gt;</h2>"} {
		if !strings.Contains(body, want) {
			t.Errorf("about page lacks %q", want)
		}
	}
	_, body = admin.get("/admin")
	if !strings.Contains(body, "&lt;img src=x onerror=alert(&#34;name&#34;)&gt;") {
		t.Error("the admin page does not show the hostile display name escaped")
	}
	_, body = c.get("/learn")
	if !strings.Contains(body, "&lt;script&gt;alert(&#34;class&#34;)&lt;/script&gt;") {
		t.Error("the learn page does not show the hostile class name escaped")
	}
}

func TestOversizedBodies(t *testing.T) {
	f := sharedProject(t)
	c := f.client(t)
	tok := c.start("big")
	huge := url.Values{"csrf": {tok}, "pad": {strings.Repeat("a", 2*maxBody)}}
	for _, p := range []string{"/label", "/practice", "/session", "/session/end"} {
		resp, _ := c.post(p, huge)
		if resp.StatusCode != http.StatusRequestEntityTooLarge && !(p == "/session" && resp.StatusCode == http.StatusForbidden) {
			t.Errorf("POST %s with %d bytes: %s", p, 2*maxBody, resp.Status)
		}
	}
	admin := f.client(t)
	admin.get("/admin?token=" + adminToken)
	if resp, _ := admin.post("/admin/examples", huge); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /admin/examples oversized: %s", resp.Status)
	}
}

func TestParticipantsSeeOnlyTheirOwnAnswers(t *testing.T) {
	f := sharedProject(t)
	r := f.round(t)
	a, b := f.client(t), f.client(t)
	ta, tb := a.start("ann"), b.start("ben")
	a.passPractice(f, ta)
	b.passPractice(f, tb)
	item := r.Picks[len(r.Picks)-1]
	if resp, _ := a.post("/label", url.Values{"csrf": {ta}, "round": {fmt.Sprint(r.ID)}, "item": {fmt.Sprint(item)}, "class": {"trouser"}, "bad": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("ann's answer: %s", resp.Status)
	}
	// Ben's views show nothing of Ann's answer.
	for _, p := range []string{"/label", fmt.Sprintf("/label?item=%d", item), "/api/queue", "/finish"} {
		_, body := b.get(p)
		if strings.Contains(body, "trouser (bad example)") || strings.Contains(body, `"answer":"trouser`) {
			t.Errorf("GET %s shows ann's answer to ben", p)
		}
	}
	// Ben's undo does not reach Ann's answer; nor can Ben name a session.
	b.post("/label/undo", url.Values{"csrf": {tb}})
	b.post("/label", url.Values{"csrf": {tb}, "round": {fmt.Sprint(r.ID)}, "item": {fmt.Sprint(item)}, "class": {"bag"},
		"session": {fmt.Sprint(sessionID(t, f, a))}, "session_id": {fmt.Sprint(sessionID(t, f, a))}})
	q, err := f.p.Store().Queue(context.Background(), sessionID(t, f, a), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range q {
		if e.Item.ID == item && (e.Latest == nil || e.Latest.Class != "trouser" || !e.Latest.Bad) {
			t.Errorf("ann's answer became %+v", e.Latest)
		}
	}
	// An item outside the round cannot be answered at all.
	items, _ := f.p.Store().Items(context.Background())
	for _, it := range items {
		if !contains(r.Picks, it.ID) {
			if resp, _ := b.post("/label", url.Values{"csrf": {tb}, "round": {fmt.Sprint(r.ID)}, "item": {fmt.Sprint(it.ID)}, "class": {"bag"}}); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("answer to item %d outside the round: %s", it.ID, resp.Status)
			}
			break
		}
	}
}

func TestAnswersToAClosingRoundAreRefusedVisibly(t *testing.T) {
	f := sharedProject(t)
	c := f.client(t)
	tok := c.start("late")
	c.passPractice(f, tok)
	r := f.round(t)
	st := f.p.Store()
	ctx := context.Background()
	if err := st.BeginClose(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.AbortClose(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
	}()
	resp, body := c.post("/label", url.Values{"csrf": {tok}, "round": {fmt.Sprint(r.ID)}, "item": {fmt.Sprint(r.Picks[0])}, "class": {"bag"}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "was not saved") {
		t.Errorf("answer while closing: %s", resp.Status)
	}
	resp, body = c.get("/label")
	if resp.StatusCode != 200 || !strings.Contains(body, "is being closed") {
		t.Errorf("label page while closing: %s", resp.Status)
	}
	// A round id that names no round is refused too.
	if err := st.AbortClose(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	resp, _ = c.post("/label", url.Values{"csrf": {tok}, "round": {fmt.Sprint(r.ID + 1000)}, "item": {fmt.Sprint(r.Picks[0])}, "class": {"bag"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("answer for a round that does not exist: %s", resp.Status)
	}
	if err := st.BeginClose(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	q, _ := st.Queue(ctx, sessionID(t, f, c), r.ID)
	for _, e := range q {
		if e.Latest != nil {
			t.Errorf("an answer refused with 409 was stored: %+v", e.Latest)
		}
	}
}

func TestPracticeGateIsEnforcedByTheServer(t *testing.T) {
	f := sharedProject(t)
	c := f.client(t)
	tok := c.start("learner")
	items, _ := f.p.Store().PracticeItems(context.Background())
	size := f.p.Config().Practice.PageSize
	if len(items) <= size {
		t.Fatalf("need two practice pages, have %d items in pages of %d", len(items), size)
	}
	r := f.round(t)
	// Labelling is closed before the practice is passed.
	if resp, _ := c.post("/label", url.Values{"csrf": {tok}, "round": {fmt.Sprint(r.ID)}, "item": {fmt.Sprint(r.Picks[0])}, "class": {"bag"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("label before practice: %s", resp.Status)
	}
	page2 := url.Values{"csrf": {tok}, "page": {"2"}}
	for _, it := range items[size:min(2*size, len(items))] {
		page2.Set(fmt.Sprintf("item-%d", it.ID), it.Gold)
	}
	if resp, _ := c.post("/practice", page2); resp.StatusCode != http.StatusForbidden {
		t.Errorf("page 2 before page 1: %s", resp.Status)
	}
	// Page 1 with one wrong answer: the table shows it, page 2 stays shut.
	page1 := url.Values{"csrf": {tok}, "page": {"1"}}
	wrong := items[0]
	for _, it := range items[:size] {
		page1.Set(fmt.Sprintf("item-%d", it.ID), it.Gold)
	}
	other := "bag"
	if wrong.Gold == "bag" {
		other = "trouser"
	}
	page1.Set(fmt.Sprintf("item-%d", wrong.ID), other)
	c.post("/practice", page1)
	_, body := c.get("/practice?page=1")
	if !strings.Contains(body, "✗ wrong") || strings.Contains(body, `id="next"`) {
		t.Error("a wrong answer does not show as wrong, or the next page is offered")
	}
	if resp, _ := c.post("/practice", page2); resp.StatusCode != http.StatusForbidden {
		t.Errorf("page 2 after a wrong page 1: %s", resp.Status)
	}
	_, body = c.get("/practice?page=2")
	if !strings.Contains(body, "opens once page 1 is passed") {
		t.Error("GET page 2 while locked does not say so")
	}
	page1.Set(fmt.Sprintf("item-%d", wrong.ID), wrong.Gold)
	c.post("/practice", page1)
	_, body = c.get("/practice?page=1")
	if !strings.Contains(body, `id="next"`) {
		t.Error("after correcting page 1 the next page is not offered")
	}
	if resp, _ := c.post("/practice", page2); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("page 2 after passing page 1: %s", resp.Status)
	}
}

func TestHeadersCookiesAndErrorPages(t *testing.T) {
	f := sharedProject(t)
	c := f.client(t)
	resp, _ := c.get("/")
	h := resp.Header
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
		if h.Get(k) != want {
			t.Errorf("%s = %q", k, h.Get(k))
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}
	// A fresh browser starting a session gets the session cookie.
	c2 := f.client(t)
	_, body := c2.get("/")
	m := webclient.CSRFField.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF field on the start page")
	}
	resp, _ = c2.post("/session", url.Values{"csrf": {m[1]}})
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{sessionCookie + "=", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(sc, want) {
			t.Errorf("session cookie %q lacks %s", sc, want)
		}
	}
	if strings.Contains(sc, "Secure") {
		t.Error("Secure cookie over plain HTTP would never come back")
	}
	resp, body = c.get("/no/such/page")
	if resp.StatusCode != 404 || strings.Contains(body, "goroutine") || strings.Contains(body, ".go:") {
		t.Errorf("404 page: %s %q", resp.Status, body)
	}
	hs := f.srv.HTTPServer("127.0.0.1:0")
	for name, d := range map[string]time.Duration{"ReadHeaderTimeout": hs.ReadHeaderTimeout, "ReadTimeout": hs.ReadTimeout,
		"WriteTimeout": hs.WriteTimeout, "IdleTimeout": hs.IdleTimeout} {
		if d <= 0 {
			t.Errorf("%s is not set", name)
		}
	}
}

func TestTLSCookiesAreSecure(t *testing.T) {
	f := sharedProject(t)
	ts := httptest.NewTLSServer(f.srv.Handler())
	defer ts.Close()
	hc := ts.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(ts.URL + "/admin?token=" + adminToken)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "Secure") {
		t.Errorf("admin cookie over TLS %q is not Secure", sc)
	}
}
