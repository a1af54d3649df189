package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCloseRoundFromTheAdminPage closes a round through the admin routes on
// a project of its own: the close runs in the background, the site answers
// meanwhile, and the next round opens with one more evaluated model.
func TestCloseRoundFromTheAdminPage(t *testing.T) {
	sharedProject(t) // skips without Fashion-MNIST
	f, err := buildFixture()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		f.ts.Close()
		f.p.Close()
		os.RemoveAll(filepath.Dir(f.dir))
	}()
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
	m := csrfField.FindStringSubmatch(body)
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
