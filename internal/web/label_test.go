package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/winnowml/winnow/internal/labelstore"
)

func TestClassKeys(t *testing.T) {
	seen := map[string]int{}
	for i := range 40 {
		k := classKey(i)
		switch {
		case i < 9 && k != fmt.Sprint(i+1), i == 9 && k != "0":
			t.Errorf("class %d has key %q", i, k)
		case k == "" && i < 30, k != "" && i >= 30:
			t.Errorf("class %d has key %q: 1-9, 0 and the 20 letters no action uses make 30", i, k)
		case k != "" && strings.Contains(actionKeys+"/?", k):
			t.Errorf("class %d has the action key %q", i, k)
		}
		if j, dup := seen[k]; dup && k != "" {
			t.Errorf("classes %d and %d share key %q", j, i, k)
		}
		seen[k] = i
	}
}

// postJSON posts a form as the Label page's script does: the CSRF token in
// the header, JSON asked for.
func (c *client) postJSON(path string, form url.Values, csrf string) (*http.Response, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if csrf != "" {
		req.Header.Set(csrfHeader, csrf)
	}
	resp, body := c.do(req)
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		c.t.Fatalf("POST %s: %s, not JSON: %.200q", path, resp.Status, body)
	}
	return resp, out
}

func answerOf(t *testing.T, f *fixture, c *client, r *labelstore.Round, id labelstore.ItemID) *labelstore.Answer {
	t.Helper()
	q, err := f.p.Store().Queue(context.Background(), sessionID(t, f, c), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range q {
		if e.Item.ID == id {
			return e.Latest
		}
	}
	return nil
}

// TestLabelFetch answers and undoes as the page's script does: the reply
// names the next image, what to prefetch and the last answers, all decided
// by the server from this session's queue.
func TestLabelFetch(t *testing.T) {
	f := sharedProject(t)
	c := f.client(t)
	tok := c.start("fetcher")
	c.passPractice(f, tok)
	r := f.round(t)
	q, _ := f.p.Store().Queue(context.Background(), sessionID(t, f, c), r.ID)
	first := q[0].Item.ID
	resp, j := c.postJSON("/label", url.Values{"round": {fmt.Sprint(r.ID)}, "item": {fmt.Sprint(first)}, "class": {"bag"}, "bad": {"1"}}, tok)
	if resp.StatusCode != 200 || j["saved"] != true || j["answer"] != "bag (bad example)" || j["item"] != float64(first) {
		t.Fatalf("answer by fetch: %s %v", resp.Status, j)
	}
	next, _ := j["next"].(map[string]any)
	if next == nil || next["id"] != float64(q[1].Item.ID) || next["position"] != float64(2) {
		t.Errorf("next after the first answer: %v, want item %d at 2", next, q[1].Item.ID)
	}
	up, _ := j["upcoming"].([]any)
	if len(up) == 0 || up[0].(map[string]any)["id"] != float64(q[2].Item.ID) {
		t.Errorf("upcoming: %v, want item %d first", up, q[2].Item.ID)
	}
	recent, _ := j["recent"].([]any)
	if len(recent) != 1 || recent[0].(map[string]any)["id"] != float64(first) || j["answered"] != float64(1) {
		t.Errorf("recent %v, answered %v", recent, j["answered"])
	}
	if a := answerOf(t, f, c, r, first); a == nil || a.Class != "bag" || !a.Bad {
		t.Errorf("stored %+v", a)
	}
	// Undo by fetch: the reply shows the undone image again.
	resp, j = c.postJSON("/label/undo", url.Values{}, tok)
	next, _ = j["next"].(map[string]any)
	if resp.StatusCode != 200 || j["undone"] != true || next == nil || next["id"] != float64(first) || next["answer"] != "" {
		t.Errorf("undo by fetch: %s %v", resp.Status, j)
	}
	if a := answerOf(t, f, c, r, first); a != nil {
		t.Errorf("after undo the answer in effect is %+v", a)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("reply headers: %v", resp.Header)
	}
}

// TestLabelFetchRefusals: the fetch endpoints refuse what the forms refuse,
// in JSON, and store nothing.
func TestLabelFetchRefusals(t *testing.T) {
	f := sharedProject(t)
	r := f.round(t)
	a, b := f.client(t), f.client(t)
	ta, tb := a.start("amy"), b.start("bob")
	a.passPractice(f, ta)
	b.passPractice(f, tb)
	item := r.Picks[0]
	form := url.Values{"round": {fmt.Sprint(r.ID)}, "item": {fmt.Sprint(item)}, "class": {"trouser"}}
	check := func(what string, resp *http.Response, j map[string]any, status int) {
		t.Helper()
		if resp.StatusCode != status || j["error"] == nil || j["error"] == "" {
			t.Errorf("%s: %s %v, want %d with an error", what, resp.Status, j, status)
		}
		if got := answerOf(t, f, a, r, item); got != nil {
			t.Errorf("%s: an answer was stored: %+v", what, got)
		}
	}
	resp, j := a.postJSON("/label", form, "")
	check("no CSRF token", resp, j, http.StatusForbidden)
	resp, j = a.postJSON("/label", form, tb) // bob's token with amy's cookie
	check("another session's CSRF token", resp, j, http.StatusForbidden)
	resp, j = a.postJSON("/label/undo", url.Values{}, tb)
	check("undo with another session's CSRF token", resp, j, http.StatusForbidden)

	// An item that is not in the batch (a practice item) is refused.
	practice, _ := f.p.Store().PracticeItems(context.Background())
	resp, j = a.postJSON("/label", url.Values{"round": {fmt.Sprint(r.ID)}, "item": {fmt.Sprint(practice[0].ID)}, "class": {"trouser"}}, ta)
	check("an item outside the batch", resp, j, http.StatusBadRequest)

	// Bob's answer and undo do not touch amy's, and his reply shows nothing of hers.
	if resp, j = a.postJSON("/label", url.Values{"round": {fmt.Sprint(r.ID)}, "item": {fmt.Sprint(r.Picks[1])}, "class": {"bag"}, "bad": {"1"}}, ta); resp.StatusCode != 200 {
		t.Fatalf("amy's answer: %s %v", resp.Status, j)
	}
	resp, j = b.postJSON("/label/undo", url.Values{}, tb)
	if resp.StatusCode != 200 || j["undone"] == true {
		t.Errorf("bob's undo with nothing of his to undo: %s %v", resp.Status, j)
	}
	if raw, _ := json.Marshal(j); strings.Contains(string(raw), "bag (bad example)") {
		t.Errorf("bob's reply shows amy's answer: %s", raw)
	}
	if got := answerOf(t, f, a, r, r.Picks[1]); got == nil || got.Class != "bag" {
		t.Errorf("amy's answer after bob's undo: %+v", got)
	}
	a.postJSON("/label/undo", url.Values{}, ta)

	// A round being closed takes no answer, and says so.
	st := f.p.Store()
	ctx := context.Background()
	if err := st.BeginClose(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	defer st.AbortClose(ctx, r.ID)
	resp, j = a.postJSON("/label", form, ta)
	check("a round being closed", resp, j, http.StatusConflict)
	if j["saved"] != false || !strings.Contains(fmt.Sprint(j["error"]), "not saved") {
		t.Errorf("closing round reply: %v", j)
	}
	resp, j = a.postJSON("/label/undo", url.Values{}, ta)
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("undo in a round being closed: %s %v", resp.Status, j)
	}
}
