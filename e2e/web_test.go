package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/winnowml/winnow/internal/labelstore"
)

// browser drives one headless Debian Chromium.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string // WINNOW_SCREENSHOTS: where to save a screenshot of each page
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (make deps installs Debian's chromium)")
	}
	ctx, cancel := webContext(t)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.WindowSize(1280, 900),
		// Tests run as root in CI containers, where Chromium's sandbox cannot start.
		chromedp.NoSandbox, chromedp.Flag("disable-gpu", true))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	b := &browser{t: t, ctx: bctx, shots: os.Getenv("WINNOW_SCREENSHOTS")}
	b.do(chromedp.EmulateViewport(1280, 900))
	return b
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

// load runs an action that navigates (a click, a key that submits a form)
// and waits for the next page to load.
func (b *browser) load(trigger chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, trigger)); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) open(url string) { b.t.Helper(); b.load(chromedp.Navigate(url)) }

func eval[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("%s: %v", js, err)
	}
	return v
}

func (b *browser) text(css string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, css))
}

func (b *browser) count(css string) int {
	b.t.Helper()
	return eval[int](b, fmt.Sprintf(`document.querySelectorAll(%q).length`, css))
}

func (b *browser) location() string {
	b.t.Helper()
	u, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// shot saves a full-page PNG of what the browser shows, at the current
// width, when screenshots were asked for.
func (b *browser) shot(name string) {
	b.t.Helper()
	if b.shots == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// narrow takes a screenshot at a phone's 360 px width, then goes back.
func (b *browser) narrow(name string) {
	b.t.Helper()
	b.do(chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
	// At 360 px nothing may stick out sideways.
	if w := eval[int](b, `document.documentElement.scrollWidth`); w > 360 {
		b.t.Errorf("%s: the page is %d px wide at a 360 px viewport", name, w)
	}
	b.shot(name)
	b.do(chromedp.EmulateViewport(1280, 900))
}

func (b *browser) key(k string) { b.t.Helper(); b.do(chromedp.KeyEvent(k)) }

// keyLoad presses a key that submits a form and waits for the next page.
func (b *browser) keyLoad(k string) { b.t.Helper(); b.load(chromedp.KeyEvent(k)) }

// shownJS counts the answers the Label page's script has shown the result
// of (a User Timing measure each).
const shownJS = `performance.getEntriesByName("winnow:key-to-next").length`

// answer presses a key that answers (or undoes) on the Label page and waits
// until the page shows what the server sent back: the next image, a
// message, or a new page when the batch is done.
func (b *browser) answer(k string) {
	b.t.Helper()
	before := eval[int](b, shownJS)
	b.key(k)
	b.waitFor(fmt.Sprintf(`%s > %d || !document.getElementById("answer") ||
		!document.getElementById("flash").classList.contains("hidden")`, shownJS, before))
}

// waitFor polls a JavaScript condition until it holds, across page loads.
func (b *browser) waitFor(cond string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(() => { try { return !!(`+cond+`) } catch (e) { return false } })()`))
		if err == nil && ok && eval[string](b, `document.readyState`) == "complete" {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waited 15 s for %s (last error %v)", cond, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWebParticipantAndAdmin(t *testing.T) {
	const token = "e2e-admin-token"
	proj := webProject(t, webProjectOptions{perClass: 50, gold: 8, batch: 8, pageSize: 8, gate: "all-correct"})
	srv := startServe(t, proj, token)
	b := newBrowser(t)
	base := srv.base

	st, err := labelstore.Open(filepath.Join(proj, "winnow.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	practice, err := st.PracticeItems(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gold := map[int64]string{}
	for _, it := range practice {
		gold[int64(it.ID)] = it.Gold
	}
	round1, err := st.CurrentRound(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The admin chooses example images for the Learn page.
	b.open(base + "/admin?token=" + token)
	if !strings.HasSuffix(b.location(), "/admin") {
		t.Fatalf("admin login left the token in the URL: %s", b.location())
	}
	b.open(base + "/admin/examples")
	eval[chromedp.Void](b, `document.querySelectorAll("fieldset").forEach(f =>
		[...f.querySelectorAll("input[type=checkbox]")].slice(0, 4).forEach(c => c.checked = true))`)
	b.load(chromedp.Click(chromedp.CSS(`form button[type=submit]`)))
	if !strings.Contains(b.text(".success"), "Examples saved") {
		t.Fatal("examples were not saved")
	}
	// Up to four per class: a class may have fewer known items to choose from.
	examples := b.count("input[type=checkbox]:checked")
	if examples < len(webClasses) {
		t.Fatalf("only %d examples chosen for %d classes", examples, len(webClasses))
	}
	b.shot("admin-examples")
	b.narrow("admin-examples-360")

	// About: start a session with a display name.
	b.open(base + "/")
	b.shot("about")
	b.narrow("about-360")
	b.do(chromedp.SendKeys(chromedp.ID("name"), "Ada"))
	b.load(chromedp.Click(chromedp.CSS(`#start button[type=submit]`)))
	if !strings.HasSuffix(b.location(), "/learn") {
		t.Fatalf("after starting a session: %s", b.location())
	}
	// Learn: every class with its description and the examples chosen.
	for _, c := range webClasses {
		if !strings.Contains(b.text("main"), c.about) {
			t.Errorf("learn page lacks the description of %s", c.name)
		}
	}
	if n := b.count(".thumbs img"); n != examples {
		t.Errorf("learn page shows %d example images, the admin chose %d", n, examples)
	}
	b.shot("learn")
	b.narrow("learn-360")

	// Practice page 1 with one wrong answer: the table shows it and the
	// next page stays shut; corrected, it opens.
	b.open(base + "/practice")
	ids := eval[[]int64](b, `[...document.querySelectorAll("fieldset.pitem")].map(f => +f.querySelector("input").name.slice(5))`)
	if len(ids) != 8 {
		t.Fatalf("practice page 1 shows %d items, want 8", len(ids))
	}
	answers := map[int64]string{}
	for _, id := range ids {
		answers[id] = gold[id]
	}
	wrong := ids[0]
	answers[wrong] = "bag"
	if gold[wrong] == "bag" {
		answers[wrong] = "trouser"
	}
	choose := func(ans map[int64]string) {
		js, _ := json.Marshal(ans)
		eval[chromedp.Void](b, fmt.Sprintf(`Object.entries(%s).forEach(([id, c]) =>
			document.querySelector('input[name="item-' + id + '"][value="' + c + '"]').click())`, js))
		b.load(chromedp.Click(chromedp.CSS(`form.practice button[type=submit]`)))
	}
	choose(answers)
	if n := b.count("table.results tr.wrong"); n != 1 {
		t.Errorf("results table shows %d wrong answers, want 1", n)
	}
	if !strings.Contains(b.text("table.results tr.wrong"), gold[wrong]) {
		t.Errorf("the wrong row does not show the truth %q: %q", gold[wrong], b.text("table.results tr.wrong"))
	}
	if b.count("#next") != 0 {
		t.Error("the next page is offered after a wrong answer")
	}
	b.shot("practice-wrong")
	b.narrow("practice-360")
	// The server, not the page, keeps page 2 shut.
	b.open(base + "/practice?page=2")
	if !strings.Contains(b.text(".warn"), "opens once page 1 is passed") {
		t.Error("page 2 opened before page 1 was passed")
	}
	choose(map[int64]string{wrong: gold[wrong]})
	if b.count("table.results tr.wrong") != 0 || b.count("#next") != 1 {
		t.Fatal("after correcting page 1 the next page is not offered")
	}
	b.shot("practice-passed")
	b.load(chromedp.Click(chromedp.ID("next")))
	ids = eval[[]int64](b, `[...document.querySelectorAll("fieldset.pitem")].map(f => +f.querySelector("input").name.slice(5))`)
	answers = map[int64]string{}
	for _, id := range ids {
		answers[id] = gold[id]
	}
	choose(answers)
	if !strings.Contains(b.text("#next"), "Start labelling") {
		t.Fatalf("after the last practice page: %q", b.text("main"))
	}
	b.load(chromedp.Click(chromedp.ID("next")))

	// Label with the keyboard.
	total := eval[int](b, `+document.getElementById("progress").max`)
	if total != len(round1.Picks) {
		t.Fatalf("progress bar of %d, the round has %d picks", total, len(round1.Picks))
	}
	item := func() int64 { return eval[int64](b, `+document.getElementById("photo").dataset.item`) }
	done := func() int { return eval[int](b, `+document.getElementById("progress").value`) }
	// Keys do nothing while a text field has focus.
	eval[chromedp.Void](b, `(() => { const i = document.createElement("input"); i.id = "typing"; document.querySelector("main").prepend(i); i.focus(); })()`)
	b.key("1")
	b.key("b")
	time.Sleep(300 * time.Millisecond)
	if eval[bool](b, `document.getElementById("bad").checked`) || !strings.HasSuffix(b.location(), "/label") ||
		eval[string](b, `document.getElementById("typing").value`) != "1b" {
		t.Fatal("keys acted while a text field had focus")
	}
	b.open(base + "/label")

	// Answers go without a page load: the page stays the same document.
	eval[chromedp.Void](b, `window.samePage = true`)
	first := item()
	b.answer("1")
	if got := b.text("#saved"); !strings.Contains(got, fmt.Sprintf("t-shirt for image %d", first)) {
		t.Errorf("after key 1: %q", got)
	}
	if item() == first || !eval[bool](b, `window.samePage === true`) {
		t.Errorf("after key 1 the page shows image %d (was %d), same document: %v", item(), first, eval[bool](b, `window.samePage === true`))
	}
	flagged := item()
	b.key("b")
	if !eval[bool](b, `document.getElementById("bad").checked`) {
		t.Error("key b did not tick the bad-example box")
	}
	b.answer("2")
	if got := b.text("#saved"); !strings.Contains(got, "trouser (bad example)") {
		t.Errorf("after b, 2: %q", got)
	}
	if eval[bool](b, `document.getElementById("bad").checked`) {
		t.Error("the bad-example box stays ticked for the next image")
	}
	// The strip shows the last answers as thumbnails, newest first.
	if got := eval[[]string](b, `[...document.querySelectorAll("#strip img")].map(i => i.alt)`); !slices.Equal(got, []string{fmt.Sprintf("image %d", flagged), fmt.Sprintf("image %d", first)}) {
		t.Errorf("last answers strip: %q", got)
	}
	b.shot("label")
	b.key("h") // the class guide beside the image
	b.shot("label-guide")
	b.narrow("label-guide-360")
	b.key("h")
	b.narrow("label-360")
	undone := item()
	b.answer("3")
	b.answer("u")
	if item() != undone || b.count("#undone") != 1 {
		t.Errorf("undo shows image %d, want %d again", item(), undone)
	}
	b.answer("4")
	none := item()
	b.answer("x")
	skipped := item()
	b.answer("s")
	for b.count("#photo") == 1 {
		before := done()
		b.answer("1")
		if b.count("#photo") == 1 && done() != before+1 {
			t.Fatalf("progress %d after an answer, was %d", done(), before)
		}
	}
	if done() != total || !strings.Contains(b.text("main"), "answered every image") {
		t.Fatalf("after the batch: progress %d of %d", done(), total)
	}

	// Finish shows the counts: every pick but the "none" and the skipped one has a class.
	b.open(base + "/finish")
	if got := b.text("#labelled"); got != fmt.Sprint(total-2) {
		t.Errorf("finish page counts %s labelled, want %d", got, total-2)
	}
	b.shot("finish")
	b.narrow("finish-360")

	// The database holds what the keys meant, history included.
	rows, err := st.RoundAnswers(ctx, round1.ID)
	if err != nil {
		t.Fatal(err)
	}
	inEffect := map[labelstore.ItemID]labelstore.AnswerRow{}
	undoneSeen := false
	for _, r := range rows {
		if r.Participant != "Ada" {
			continue
		}
		if r.Undone && r.ItemID == labelstore.ItemID(undone) && r.Class == "sneaker" {
			undoneSeen = true
		}
		if !r.Undone && !r.Superseded {
			inEffect[r.ItemID] = r
		}
	}
	if len(inEffect) != total {
		t.Errorf("%d answers in effect, want %d", len(inEffect), total)
	}
	check := func(id int64, ok bool, what string) {
		if !ok {
			t.Errorf("image %d: %s; stored %+v", id, what, inEffect[labelstore.ItemID(id)].Answer)
		}
	}
	a := func(id int64) labelstore.Answer { return inEffect[labelstore.ItemID(id)].Answer }
	check(first, a(first).Class == "t-shirt" && !a(first).Bad, "want t-shirt")
	check(flagged, a(flagged).Class == "trouser" && a(flagged).Bad, "want trouser flagged bad")
	check(undone, a(undone).Class == "bag" && undoneSeen, "want bag, after an undone sneaker")
	check(none, a(none).None, "want none of these")
	check(skipped, a(skipped).Skip, "want skipped")

	// The admin closes the round: a new batch appears and the learning
	// curve gains a point.
	b.open(base + "/admin")
	points := b.count("#rounds tr.evaluated")
	if points < 1 || b.count("img.curve") != 1 {
		t.Fatalf("before closing: %d evaluated models, %d curves", points, b.count("img.curve"))
	}
	if !strings.Contains(b.text("#participants"), "Ada") {
		t.Error("the admin page does not list the participant")
	}
	b.shot("admin")
	b.do(chromedp.Click(chromedp.ID("close")))
	// The page's script shows the progress at once and polls it.
	if b.count("#close-progress.hidden") != 0 {
		t.Error("no progress shown after Close round")
	}
	b.shot("admin-closing")
	// The site stays usable while the round closes.
	if resp, err := http.Get(base + "/learn"); err != nil || resp.StatusCode != 200 {
		t.Errorf("GET /learn during the close: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(b.text("#round h2"), "Round 2") {
		if time.Now().After(deadline) {
			t.Fatalf("round 2 did not open within 90 s; page: %q\nserver: %s", b.text("main"), srv.logs)
		}
		time.Sleep(250 * time.Millisecond)
	}
	b.open(base + "/admin") // the page reloads itself; reload again to read it settled
	if n := b.count("#rounds tr.evaluated"); n != points+1 {
		t.Errorf("learning curve has %d points after closing, want %d", n, points+1)
	}
	if b.count(`a[href="/admin/report/1"]`) != 1 {
		t.Error("no link to round 1's evaluation report")
	}
	b.shot("admin-closed")
	b.narrow("admin-360")
	round2, err := st.CurrentRound(ctx)
	if err != nil || round2.Number != 2 {
		t.Fatalf("current round after closing: %+v, %v", round2, err)
	}
	b.open(base + "/label")
	if !strings.Contains(b.text("h1"), "round 2") || done() != 0 {
		t.Errorf("label page after closing: %q, progress %d", b.text("h1"), done())
	}
	if slices.Contains(round1.Picks, labelstore.ItemID(item())) {
		t.Errorf("round 2 shows image %d of round 1", item())
	}
}
