package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/winnowml/winnow/internal/web/webclient"
)

// TestAssessmentPage: participants label through the site; the Assessment
// page is admin only, shows them (names escaped) with their statistics,
// and trains the workshop's models in the background on request, with
// their chart.
func TestAssessmentPage(t *testing.T) {
	f := ownProject(t)
	r1 := f.round(t)
	classes := f.p.Config().ClassNames()
	names := []string{"<b>Bold</b>", "second", "always-first-class"}
	for i, name := range names {
		c := f.client(t)
		tok := c.start(name)
		c.passPractice(f, tok)
		for k, id := range r1.Picks {
			class := classes[(k+i)%len(classes)]
			if i == 2 {
				class = classes[0]
			}
			if resp, _ := c.post("/label", url.Values{"csrf": {tok}, "round": {fmt.Sprint(r1.ID)}, "item": {fmt.Sprint(id)}, "class": {class}}); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("answer: %s", resp.Status)
			}
		}
	}
	if resp, _ := f.client(t).get("/admin/assess"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("Assessment page without the admin cookie: %s", resp.Status)
	}
	admin := f.client(t)
	admin.get("/admin/assess?token=" + adminToken)
	resp, body := admin.get("/admin/assess")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /admin/assess: %s", resp.Status)
	}
	for _, want := range []string{"&lt;b&gt;Bold&lt;/b&gt;", "always-first-class", `id="assess-participants"`, `id="assess-pairs"`, "Fleiss"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "<b>Bold</b>") || strings.Contains(body, "NaN") {
		t.Error("a name is not escaped, or a NaN is shown")
	}
	// Three pairs; the constant labeller's kappas are defined (0 or below).
	if n := strings.Count(body, " · "); n < 3 {
		t.Errorf("%d pairs on the page, want 3", n)
	}
	m := webclient.CSRFField.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF field on the Assessment page")
	}
	if resp, _ := admin.post("/admin/assess/models", url.Values{"csrf": {"wrong"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("training with a wrong CSRF token: %s", resp.Status)
	}
	if resp, _ := admin.post("/admin/assess/models", url.Values{"csrf": {m[1]}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /admin/assess/models: %s", resp.Status)
	}
	deadline := time.Now().Add(120 * time.Second)
	for {
		_, body = admin.get("/admin/assess")
		if strings.Contains(body, `id="assess-model-table"`) {
			break
		}
		if strings.Contains(body, "Training failed") || time.Now().After(deadline) {
			t.Fatalf("the models did not train:\n%s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(body, "Dawid-Skene consensus") || !strings.Contains(body, "initial set only") {
		t.Error("the models table lacks the consensus or the initial set")
	}
	resp, svg := admin.get("/admin/assess/chart.svg")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || strings.Count(svg, "<path") < 3 {
		t.Errorf("chart: %s %s, %d paths", resp.Status, resp.Header.Get("Content-Type"), strings.Count(svg, "<path"))
	}
}
