package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/web/webclient"
)

// TestCloseRoundFromTheAdminPage closes a round through the admin routes on
// a project of its own: the close runs in the background, the site answers
// meanwhile, and the next round opens with one more evaluated model.
func TestCloseRoundFromTheAdminPage(t *testing.T) {
	f := ownProject(t)
	r1 := f.round(t)
	c := f.client(t)
	tok := c.start("closer")
	c.passPractice(f, tok)
	for _, id := range r1.Picks {
		if resp, _ := c.post("/label", url.Values{"csrf": {tok}, "round": {fmt.Sprint(r1.ID)}, "item": {fmt.Sprint(id)}, "class": {"bag"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("answer: %s", resp.Status)
		}
	}
	admin := f.client(t)
	admin.get("/admin?token=" + adminToken)
	_, body := admin.get("/admin")
	before := strings.Count(body, `class="evaluated"`)
	m := webclient.CSRFField.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF field on the admin page")
	}
	req, _ := http.NewRequest("POST", admin.base+"/admin/close", nil)
	req.Header.Set(csrfHeader, m[1])
	req.Header.Set("Accept", "application/json")
	if resp, body := admin.do(req); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /admin/close: %s %s", resp.Status, body)
	}
	if resp, _ := c.get("/learn"); resp.StatusCode != 200 {
		t.Errorf("the site during the close: %s", resp.Status)
	}
	deadline := time.Now().Add(60 * time.Second)
	var prog struct {
		Running bool
		Stage   string
		Error   string
		Round   int
	}
	for {
		_, body := admin.get("/admin/progress")
		if err := json.Unmarshal([]byte(body), &prog); err != nil {
			t.Fatal(err)
		}
		if !prog.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the close still runs after 60 s: %+v", prog)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if prog.Error != "" || prog.Round != r1.Number+1 || prog.Stage != "done" {
		t.Fatalf("after the close: %+v", prog)
	}
	_, body = admin.get("/admin")
	if !strings.Contains(body, fmt.Sprintf("Round %d", r1.Number+1)) || strings.Count(body, `class="evaluated"`) != before+1 {
		t.Errorf("the admin page after the close shows %d evaluated models (was %d)", strings.Count(body, `class="evaluated"`), before)
	}
	if resp, body := admin.get(fmt.Sprintf("/admin/report/%d", r1.Number)); resp.StatusCode != 200 || !strings.Contains(body, "accuracy") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("round %d's report: %s", r1.Number, resp.Status)
	}
	if resp, body := admin.get("/admin/curve.svg"); resp.StatusCode != 200 || strings.Count(body, "<path") < 2 {
		t.Errorf("learning curve: %s", resp.Status)
	}
	_, body = c.get("/label")
	if !strings.Contains(body, fmt.Sprintf("round %d", r1.Number+1)) {
		t.Error("the label page does not show the new round")
	}
}

// A round left closing by a process that stopped mid-close (here: marked
// closing, then the server dropped without finishing) is finished by the
// next server on the project, without an admin pressing Close again.
func TestServerFinishesACloseLeftHalfDone(t *testing.T) {
	f := ownProject(t)
	r1 := f.round(t)
	ctx := context.Background()
	if err := f.p.Store().BeginClose(ctx, r1.ID); err != nil {
		t.Fatal(err)
	}
	f.ts.Close()
	if err := f.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	srv, err := New(f.p, Options{AdminToken: adminToken, Log: log.New(&logs, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	f.srv, f.ts = srv, httptest.NewServer(srv.Handler())
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := f.p.Store().CurrentRound(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Number == r1.Number+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s the current round is %d (%s); want round %d open", r.Number, r.State, r1.Number+1)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r, _ := f.p.Store().CurrentRound(ctx); r.State != labelstore.StateOpen {
		t.Errorf("round %d is %s, want open", r.Number, r.State)
	}
	if !strings.Contains(logs.String(), fmt.Sprintf("round %d was left closing", r1.Number)) {
		t.Errorf("the server did not say it finished the close: %q", logs.String())
	}
}
