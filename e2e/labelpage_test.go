package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/winnowml/winnow/internal/labelstore"
)

// fmnistNames are Fashion-MNIST's ten labels in order.
var fmnistNames = []string{"t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"}

// labelClasses makes n classes (3, 10 or 20) of Fashion-MNIST: the first
// n labels, or for 20 each label split in two by the parity of its index.
func labelClasses(n int) []webClass {
	var out []webClass
	for l, name := range fmnistNames {
		if n == 20 {
			for p, half := range []string{"even", "odd"} {
				out = append(out, webClass{uint8(l), name + "-" + half, "A " + name + " (" + half + " index).", p})
			}
			continue
		}
		if len(out) < n {
			out = append(out, webClass{uint8(l), name, "A " + name + ", as Fashion-MNIST draws it.", -1})
		}
	}
	return out
}

// keyDown sends one keydown that carries its text, as a real keyboard
// does (chromedp.KeyEvent sends the text as a separate event, which a
// handler cannot cancel), then its keyup.
func (b *browser) keyDown(key, code string, vk int64) {
	b.t.Helper()
	for _, p := range []input.DispatchKeyEventParams{
		{Type: input.DispatchKeyEventTypeKeyDown, Key: key, Code: code, Text: key, UnmodifiedText: key, WindowsVirtualKeyCode: vk, NativeVirtualKeyCode: vk},
		{Type: input.DispatchKeyEventTypeKeyUp, Key: key, Code: code, WindowsVirtualKeyCode: vk, NativeVirtualKeyCode: vk},
	} {
		if _, err := chromedp.Call(b.ctx, input.DispatchKeyEvent, p); err != nil {
			b.t.Fatal(err)
		}
	}
}

// labelSession starts a participant session in b and opens the Label page.
func labelSession(b *browser, base, name string) {
	b.t.Helper()
	b.open(base + "/")
	b.do(chromedp.SendKeys(chromedp.ID("name"), name))
	b.load(chromedp.Click(chromedp.CSS(`#start button[type=submit]`)))
	b.open(base + "/label")
	if b.count("#photo") != 1 {
		b.t.Fatalf("no image on the Label page: %q", b.text("main"))
	}
}

// inEffect reads the answers in effect of one participant in the current round.
func inEffect(t *testing.T, proj, participant string) map[labelstore.ItemID]labelstore.Answer {
	t.Helper()
	st, err := labelstore.OpenReadOnly(filepath.Join(proj, "winnow.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	round, err := st.CurrentRound(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.RoundAnswers(ctx, round.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[labelstore.ItemID]labelstore.Answer{}
	for _, r := range rows {
		if r.Participant == participant && !r.Undone && !r.Superseded {
			out[r.ItemID] = r.Answer
		}
	}
	return out
}

// TestLabelPageKeyboardOnly labels with the keyboard alone in a 10-class and
// a 20-class project: every class has its own key (1-9, 0, then letters the
// actions do not use), the filter box reaches any class, the key map lists
// them all, and the database holds what each key meant.
func TestLabelPageKeyboardOnly(t *testing.T) {
	for _, n := range []int{10, 20} {
		t.Run(fmt.Sprintf("%d-classes", n), func(t *testing.T) {
			classes := labelClasses(n)
			proj := webProject(t, webProjectOptions{classes: classes, perClass: 6, gold: 2, batch: n + 4, pageSize: 10, gate: "off"})
			srv := startServe(t, proj, "e2e-admin-token")
			b := newBrowser(t)
			// The admin chooses up to four examples per class.
			b.open(srv.base + "/admin?token=e2e-admin-token")
			b.open(srv.base + "/admin/examples")
			eval[chromedp.Void](b, `document.querySelectorAll("fieldset").forEach(f =>
				[...f.querySelectorAll("input[type=checkbox]")].slice(0, 4).forEach(c => c.checked = true))`)
			b.load(chromedp.Click(chromedp.CSS(`form button[type=submit]`)))
			labelSession(b, srv.base, "Kay")

			// Learn: a compact grid, and an example opens larger on click.
			b.open(srv.base + "/learn")
			if h := eval[int](b, `document.documentElement.scrollHeight`); h > 300+n*90 {
				t.Errorf("the Learn page is %d px tall for %d classes", h, n)
			}
			b.do(chromedp.Click(chromedp.CSS(`a.zoomable`)))
			if eval[bool](b, `document.getElementById("lightbox").hidden`) || eval[int](b, `document.querySelector("#lightbox img").getBoundingClientRect().width`) < 300 {
				t.Error("an example did not open larger on click")
			}
			b.shot(fmt.Sprintf("learn-%d", n))
			b.key(kb.Escape)
			if !eval[bool](b, `document.getElementById("lightbox").hidden`) {
				t.Error("Escape did not close the enlarged example")
			}
			b.open(srv.base + "/label")

			// Help beside the image: hovering a class shows its description and examples.
			eval[chromedp.Void](b, `document.querySelector("#classes button").dispatchEvent(new MouseEvent("mouseenter"))`)
			b.waitFor(`!document.getElementById("tip").hidden`)
			if tip := b.text("#tip"); !strings.Contains(tip, classes[0].about) || b.count("#tip img") == 0 {
				t.Errorf("hover tip %q with %d images", tip, b.count("#tip img"))
			}
			eval[chromedp.Void](b, `document.querySelector("#classes button").dispatchEvent(new MouseEvent("mouseleave"))`)
			if b.count("#guide li") != n || b.count("#guide li img") == 0 {
				t.Errorf("the class guide lists %d classes with %d images", b.count("#guide li"), b.count("#guide li img"))
			}

			keys := eval[[]string](b, `[...document.querySelectorAll("#classes button")].map(b => b.dataset.key || "")`)
			names := eval[[]string](b, `[...document.querySelectorAll("#classes button")].map(b => b.value)`)
			if len(keys) != n {
				t.Fatalf("%d class buttons, want %d", len(keys), n)
			}
			if keys[9] != "0" || !slices.Equal(keys[:9], strings.Split("123456789", "")) {
				t.Errorf("class keys %q: want 1-9 then 0", keys)
			}
			seen := map[string]bool{}
			for i, k := range keys {
				if k == "" || seen[k] || strings.Contains("bhsuxz/?", k) {
					t.Errorf("class %s has key %q (used, empty or an action's)", names[i], k)
				}
				seen[k] = true
				if !strings.Contains(eval[string](b, fmt.Sprintf(`document.querySelectorAll("#classes button")[%d].innerText`, i)), k) {
					t.Errorf("the button of %s does not show its key %q", names[i], k)
				}
			}
			if eval[bool](b, `document.querySelector(".keys").offsetParent === null`) {
				t.Error("the keys line is hidden with JavaScript on")
			}
			// The key map lists every class key.
			b.key("?")
			if eval[bool](b, `document.getElementById("keymap").hidden`) {
				t.Fatal("? did not open the key map")
			}
			if got := b.count("#keymap .keygrid kbd"); got < n+6 {
				t.Errorf("key map shows %d keys, want at least %d", got, n+6)
			}
			b.shot(fmt.Sprintf("label-keys-%d", n))
			b.key(kb.Escape)
			if !eval[bool](b, `document.getElementById("keymap").hidden`) {
				t.Error("Escape did not close the key map")
			}

			// One answer per class by its key, the last class by the filter.
			want := map[labelstore.ItemID]string{}
			for i := range n {
				id := labelstore.ItemID(eval[int64](b, `+document.getElementById("photo").dataset.item`))
				if i == n-1 {
					b.keyDown("/", "Slash", 191)
					if !eval[bool](b, `document.activeElement && document.activeElement.id === "filter"`) {
						if n > 10 {
							t.Fatal("/ did not focus the filter box")
						}
						b.answer(keys[i]) // ten classes need no filter: it is not there
					} else {
						// Typed letters go to the box: none of them answers.
						b.do(chromedp.KeyEvent(names[i]))
						if vis := b.count("#classes button:not([hidden])"); vis != 1 {
							t.Errorf("the filter %q leaves %d classes (box holds %q)", names[i], vis, eval[string](b, `document.getElementById("filter").value`))
						}
						b.answer(kb.Enter)
					}
				} else {
					b.answer(keys[i])
				}
				want[id] = names[i]
			}
			got := inEffect(t, proj, "Kay")
			if len(got) != n {
				t.Errorf("%d answers stored, want %d", len(got), n)
			}
			for id, c := range want {
				if got[id].Class != c {
					t.Errorf("image %d: stored %+v, the key meant %s", id, got[id], c)
				}
			}
			b.shot(fmt.Sprintf("label-%d", n))
		})
	}
}

// TestLabelPagePhone checks the Label page at a phone's 360 x 740: the image
// and at least four class buttons (all of them with three classes) in view
// without scrolling, nothing wider than the screen, and pinch zoom allowed.
func TestLabelPagePhone(t *testing.T) {
	for _, n := range []int{3, 10, 20} {
		t.Run(fmt.Sprintf("%d-classes", n), func(t *testing.T) {
			proj := webProject(t, webProjectOptions{classes: labelClasses(n), perClass: 4, gold: 1, batch: 6, pageSize: 10, gate: "off"})
			srv := startServe(t, proj, "e2e-admin-token")
			b := newBrowser(t)
			b.do(chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
			labelSession(b, srv.base, "Pat")
			type fit struct {
				ImageBottom, Height float64
				Visible, Width      int
				Viewport            string
			}
			f := eval[fit](b, `(() => {
				const h = innerHeight;
				return {
					ImageBottom: document.getElementById("photo").getBoundingClientRect().bottom, Height: h,
					Visible: [...document.querySelectorAll("#classes button")].filter(b => b.getBoundingClientRect().bottom <= h).length,
					Width: document.documentElement.scrollWidth,
					Viewport: document.querySelector('meta[name=viewport]').content };
			})()`)
			if f.ImageBottom > f.Height {
				t.Errorf("the image ends at %.0f px, below the %0.f px screen", f.ImageBottom, f.Height)
			}
			if f.Visible < min(4, n) {
				t.Errorf("%d class buttons in view without scrolling, want %d", f.Visible, min(4, n))
			}
			if f.Width > 360 {
				t.Errorf("the page is %d px wide", f.Width)
			}
			if strings.Contains(f.Viewport, "user-scalable=no") || strings.Contains(f.Viewport, "maximum-scale=1") {
				t.Errorf("zoom is disabled: %q", f.Viewport)
			}
			t.Logf("%d classes at 360 x 740: image ends at %.0f px, %d class buttons in view", n, f.ImageBottom, f.Visible)
			b.shot(fmt.Sprintf("label-%d-360", n))
		})
	}
}

// TestLabelPageWithoutJavaScript labels with scripts off: every answer is a
// form post and a page load, as before the script, and works the same.
// With TestLabelPageKeyToNext it measures the time from an answer to the
// next image shown.
func TestLabelPageWithoutJavaScript(t *testing.T) {
	proj := webProject(t, webProjectOptions{perClass: 8, gold: 2, batch: 12, pageSize: 10, gate: "off"})
	srv := startServe(t, proj, "e2e-admin-token")
	b := newBrowser(t)
	if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	labelSession(b, srv.base, "Noa")
	if eval[bool](b, `document.documentElement.classList.contains("js")`) {
		t.Fatal("the page script ran with scripts disabled")
	}
	// Keys need the script: without it the page does not offer them.
	if eval[bool](b, `document.querySelector(".keys").offsetParent !== null`) {
		t.Error("the keys line shows without JavaScript")
	}
	var times []float64
	want := map[labelstore.ItemID]string{}
	for i := range 6 {
		id := labelstore.ItemID(eval[int64](b, `+document.getElementById("photo").dataset.item`))
		c := webClasses[i%len(webClasses)].name
		b.load(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#classes button[value=%q]`, c))))
		want[id] = c
		if got := b.text("#saved"); !strings.Contains(got, c) {
			t.Errorf("after choosing %s: %q", c, got)
		}
		if next := labelstore.ItemID(eval[int64](b, `+document.getElementById("photo").dataset.item`)); next == id {
			t.Errorf("image %d shown again after its answer", id)
		}
		// The navigation started with the form post: its load end is the
		// time from the click to the next page with its image.
		times = append(times, eval[float64](b, `performance.getEntriesByType("navigation")[0].loadEventEnd`))
	}
	if n := b.count("#strip img"); n != 5 {
		t.Errorf("the last answers strip shows %d thumbnails, want 5", n)
	}
	b.shot("label-nojs")
	// Undo, as a plain form.
	b.load(chromedp.Click(chromedp.CSS(`#undo button`)))
	if b.count("#undone") != 1 {
		t.Errorf("no confirmation after undo: %q", b.text("main"))
	}
	got := inEffect(t, proj, "Noa")
	if len(got) != len(want)-1 {
		t.Errorf("%d answers in effect after one undo, want %d", len(got), len(want)-1)
	}
	for id, c := range got {
		if want[id] != c.Class {
			t.Errorf("image %d: stored %+v, chose %s", id, c, want[id])
		}
	}
	reportKeyToNext(t, "without JavaScript (form post, 303, page load)", times)
}

// TestLabelPageKeyToNext measures, in the page, the time from an answer's
// key press to the next image shown (decoded and painted) with the script.
func TestLabelPageKeyToNext(t *testing.T) {
	proj := webProject(t, webProjectOptions{classes: labelClasses(10), perClass: 6, gold: 1, batch: 24, pageSize: 10, gate: "off"})
	srv := startServe(t, proj, "e2e-admin-token")
	b := newBrowser(t)
	labelSession(b, srv.base, "Ray")
	for i := range 20 {
		b.answer(fmt.Sprint(i % 10))
	}
	times := eval[[]float64](b, `performance.getEntriesByName("winnow:key-to-next").map(e => e.duration)`)
	if len(times) != 20 {
		t.Fatalf("%d measures for 20 answers", len(times))
	}
	if n := len(inEffect(t, proj, "Ray")); n != 20 {
		t.Errorf("%d answers stored, want 20", n)
	}
	reportKeyToNext(t, "with JavaScript (shown at the key press, prefetched)", times)
	defer reportKeyToNext(t, "with JavaScript: to the answer saved (fetch POST /label)",
		eval[[]float64](b, `performance.getEntriesByName("winnow:key-to-saved").map(e => e.duration)`))

	// An answer the server refuses (the round is being closed) brings its
	// image back, says why, and stops the buttons.
	st, err := labelstore.Open(filepath.Join(proj, "winnow.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	round, err := st.CurrentRound(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.BeginClose(context.Background(), round.ID); err != nil {
		t.Fatal(err)
	}
	shown := eval[int64](b, `+document.getElementById("photo").dataset.item`)
	b.key("b")
	b.answer("3")
	if got := b.text("#flash"); !strings.Contains(got, "not saved") {
		t.Errorf("refused answer: flash %q", got)
	}
	if now := eval[int64](b, `+document.getElementById("photo").dataset.item`); now != shown || eval[int64](b, `+document.getElementById("item").value`) != shown {
		t.Errorf("after a refused answer the page shows image %d, want %d back", now, shown)
	}
	if !eval[bool](b, `document.getElementById("bad").checked`) || !eval[bool](b, `document.querySelector("#classes button").disabled`) {
		t.Error("after a refused answer the flag is lost or the buttons still answer")
	}
	if err := st.AbortClose(context.Background(), round.ID); err != nil {
		t.Fatal(err)
	}

}

func reportKeyToNext(t *testing.T, how string, ms []float64) {
	t.Helper()
	sort.Float64s(ms)
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("key to next image, %s: median %.1f ms, max %.1f ms over %d answers (load average %s)",
		how, ms[len(ms)/2], ms[len(ms)-1], len(ms), strings.Join(strings.Fields(string(load))[:3], " "))
}

