package web

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/winnowml/winnow/internal/labelstore"
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

// TestAssessmentTooFewShared: issue 19 on the site. Two participants
// pass practice, one right at once, one pressing the first class on every
// practice item before correcting each (as the practice page lets them);
// then both answer the round's 6 items, honestly and with the first class.
// A third labelled 4 of them offline (imported, no practice). Practice
// answers are items of known class: the honest labeller ranks first and
// the presser below; the offline labeller rests on 4 shared items, which
// the page says is too few rather than rank them, as it does for the
// kappas over 6 and 4 items.
func TestAssessmentTooFewShared(t *testing.T) {
	f := ownProject(t)
	ctx := context.Background()
	r1 := f.round(t)
	classes := f.p.Config().ClassNames()
	items, _ := f.p.Store().Items(ctx)
	truth := map[labelstore.ItemID]string{}
	path := map[labelstore.ItemID]string{}
	for _, it := range items {
		var k int
		fmt.Sscanf(it.Path, "c%d/", &k)
		truth[it.ID], path[it.ID] = classes[k], it.Path
	}
	for _, name := range []string{"honest", "presser"} {
		c := f.client(t)
		tok := c.start(name)
		if name == "presser" {
			c.pressPractice(f, tok, classes[0])
		}
		c.passPractice(f, tok)
		for _, id := range r1.Picks {
			class := truth[id]
			if name == "presser" {
				class = classes[0]
			}
			if resp, _ := c.post("/label", url.Values{"csrf": {tok}, "round": {fmt.Sprint(r1.ID)}, "item": {fmt.Sprint(id)}, "class": {class}}); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("answer: %s", resp.Status)
			}
		}
	}
	var b strings.Builder
	cw := csv.NewWriter(&b) // the fixture's names hold quotes and commas
	cw.Write([]string{"path", "label"})
	for _, id := range r1.Picks[:4] {
		cw.Write([]string{path[id], truth[id]})
	}
	cw.Flush()
	file := filepath.Join(t.TempDir(), "offline.csv")
	os.WriteFile(file, []byte(b.String()), 0o644)
	if _, err := f.p.ImportParticipant(ctx, file, "", "offline"); err != nil {
		t.Fatal(err)
	}
	admin := f.client(t)
	admin.get("/admin/assess?token=" + adminToken)
	resp, body := admin.get("/admin/assess")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /admin/assess: %s", resp.Status)
	}
	if dir := os.Getenv("WINNOW_ASSESS_PAGE"); dir != "" { // to look at it in a browser
		os.WriteFile(filepath.Join(dir, "assess.html"), []byte(body), 0o644)
	}
	table := func(id string) string {
		i := strings.Index(body, `id="`+id+`"`)
		if i < 0 {
			t.Fatalf("no %s on the page", id)
		}
		return body[i : i+strings.Index(body[i:], "</table>")]
	}
	const tooFew = ">too few shared answers to estimate<"
	rows := strings.Split(table("assess-ranking"), "<tr>")[2:]
	if len(rows) != 3 || !strings.HasPrefix(rows[0], "<td>1</td><td>honest</td>") || !strings.HasPrefix(rows[1], "<td>2</td><td>presser</td>") ||
		!strings.HasPrefix(rows[2], "<td>–</td><td>offline</td>") || !strings.Contains(rows[2], tooFew) {
		t.Errorf("ranking rows:\n%s", strings.Join(rows, "\n"))
	}
	if n := strings.Count(table("assess-pairs"), tooFew); n != 3 {
		t.Errorf("%d pairs say too few, want 3:\n%s", n, table("assess-pairs"))
	}
	if !strings.Contains(table("assess-participants"), tooFew) || strings.Contains(body, "NaN") {
		t.Errorf("participants:\n%s", table("assess-participants"))
	}
}

// pressPractice answers every practice page with the same class, as
// someone pressing one key would; the page shows which were wrong.
func (c *client) pressPractice(f *fixture, csrf, class string) {
	c.t.Helper()
	items, err := f.p.Store().PracticeItems(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	size := f.p.Config().Practice.PageSize
	for page := 0; page*size < len(items); page++ {
		form := url.Values{"csrf": {csrf}, "page": {fmt.Sprint(page + 1)}}
		for _, it := range items[page*size : min((page+1)*size, len(items))] {
			form.Set(fmt.Sprintf("item-%d", it.ID), class)
		}
		if resp, body := c.post("/practice", form); resp.StatusCode != http.StatusSeeOther {
			c.t.Fatalf("practice page %d: %s %s", page+1, resp.Status, body)
		}
		if page == 0 {
			// Later pages open once this one is passed: correct it first.
			for _, it := range items[:min(size, len(items))] {
				form.Set(fmt.Sprintf("item-%d", it.ID), it.Gold)
			}
			c.post("/practice", form)
		}
	}
}
