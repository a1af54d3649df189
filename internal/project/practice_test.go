package project

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/progress"
)

// goldProject is a project of the first n Fashion-MNIST training images
// (registered without features: the gold split needs none) with the
// Fashion-MNIST classes and [practice] max_items maxItems, and the true
// class of each path.
func goldProject(t *testing.T, n, maxItems int) (*Project, map[string]string) {
	t.Helper()
	base := t.TempDir()
	truth, _ := fmnistImages(t, base, n, 0)
	p := bareProject(t, filepath.Join(base, "images"))
	p.cfg.Classes = fmnistClasses()
	p.cfg.Practice.MaxItems = maxItems
	var items []labelstore.Item
	for _, pth := range sortedPaths(truth) {
		items = append(items, labelstore.Item{Path: pth, SHA256: "0"})
	}
	if _, err := p.Store().AddItems(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	return p, truth
}

func sortedPaths(m map[string]string) []string {
	var ps []string
	for p := range m {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// writeGold writes the gold CSV of paths (in that order) with their truth.
func writeGold(t *testing.T, paths []string, truth map[string]string) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("path,label\n")
	for _, p := range paths {
		fmt.Fprintf(&b, "%s,%s\n", p, truth[p])
	}
	f := filepath.Join(t.TempDir(), "gold.csv")
	if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// roles returns the role of every gold item by path.
func roles(t *testing.T, p *Project) map[string]string {
	t.Helper()
	items, err := p.Store().Items(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := map[string]string{}
	for _, it := range items {
		if it.Gold != "" {
			r[it.Path] = it.Role
		}
	}
	return r
}

// practiceSide returns the paths the (seed, path) hash puts on the
// practice side, in the order of their hash value.
func practiceSide(p *Project, paths []string) []string {
	type hp struct {
		h uint64
		p string
	}
	var side []hp
	for _, pth := range paths {
		if h, ok := goldToPractice(p.cfg.Seed, pth, p.cfg.Practice.Share); ok {
			side = append(side, hp{h, pth})
		}
	}
	sort.Slice(side, func(i, j int) bool { return side[i].h < side[j].h })
	var out []string
	for _, s := range side {
		out = append(out, s.p)
	}
	return out
}

func practicePaths(r map[string]string) []string {
	var out []string
	for p, role := range r {
		if role == labelstore.RolePractice {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// The cap: of 200 gold labels, about 100 fall on the practice side; the
// 12 of lowest hash are practice, the rest test, whatever the file's order.
func TestImportGoldCapsPractice(t *testing.T) {
	ctx := context.Background()
	var first map[string]string
	for k, order := range []string{"sorted", "reversed", "shuffled"} {
		p, truth := goldProject(t, 200, 12)
		paths := sortedPaths(truth)
		switch order {
		case "reversed":
			slices.Reverse(paths)
		case "shuffled":
			rand.New(rand.NewPCG(7, 7)).Shuffle(len(paths), func(i, j int) { paths[i], paths[j] = paths[j], paths[i] })
		}
		res, err := p.ImportLabels(ctx, writeGold(t, paths, truth), "", true, OnConflictError)
		if err != nil {
			t.Fatal(err)
		}
		side := practiceSide(p, sortedPaths(truth))
		if len(side) < 50 {
			t.Fatalf("only %d of 200 gold on the practice side: the fixture does not test the cap", len(side))
		}
		if res.Practice != 12 || res.Test != 188 || res.OverMax != len(side)-12 {
			t.Fatalf("%s: import %+v, want 12 practice, 188 test, %d over the cap", order, res, len(side)-12)
		}
		if want := fmt.Sprintf("(gold: 12 practice, 188 test, of which %d because the practice items reached [practice] max_items = 12)", len(side)-12); !strings.Contains(res.String(), want) {
			t.Errorf("%s: %q does not say %q", order, res, want)
		}
		if c, _ := p.Store().Count(ctx); c.Practice != 12 || c.Test != 188 {
			t.Fatalf("%s: the store has %d practice, %d test", order, c.Practice, c.Test)
		}
		r := roles(t, p)
		want := slices.Clone(side[:12])
		sort.Strings(want)
		if got := practicePaths(r); !slices.Equal(got, want) {
			t.Fatalf("%s: practice items %v, want the 12 of lowest hash %v", order, got, want)
		}
		if k == 0 {
			first = r
		} else if !mapsEqual(r, first) {
			t.Fatalf("%s: the split differs from the sorted file's", order)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A later import of more gold fills what room the cap leaves and never
// makes a practice item a test item, also when max_items was lowered
// since; raising it lets the next import promote practice-side test items.
func TestImportGoldNeverDemotesPractice(t *testing.T) {
	ctx := context.Background()
	p, truth := goldProject(t, 200, 10)
	all := sortedPaths(truth)
	// The first import, 60 gold, fills the cap.
	if _, err := p.ImportLabels(ctx, writeGold(t, all[:60], truth), "", true, OnConflictError); err != nil {
		t.Fatal(err)
	}
	before := practicePaths(roles(t, p))
	if len(before) != 10 {
		t.Fatalf("first import: %d practice items, want 10 (the cap)", len(before))
	}
	// Imported at once, all 200 would make other items practice (those of
	// lowest hash among all of them).
	fresh := slices.Clone(practiceSide(p, all)[:10])
	sort.Strings(fresh)
	if slices.Equal(fresh, before) {
		t.Fatal("the fixture does not test demotion: the first 60 hold the 10 lowest hashes of all 200")
	}
	// More gold, the first file's rows included: the practice items stay,
	// and the cap being reached, everything else goes to test.
	res, err := p.ImportLabels(ctx, writeGold(t, all, truth), "", true, OnConflictError)
	if err != nil {
		t.Fatal(err)
	}
	if got := practicePaths(roles(t, p)); !slices.Equal(got, before) {
		t.Fatalf("after the second import the practice items are %v, were %v", got, before)
	}
	if res.Practice != 10 || res.Test != 190 || res.OverMax != len(practiceSide(p, all))-10 {
		t.Fatalf("second import %+v", res)
	}
	// max_items lowered below what the project has: nothing is demoted.
	p.cfg.Practice.MaxItems = 4
	if _, err := p.ImportLabels(ctx, writeGold(t, all, truth), "", true, OnConflictError); err != nil {
		t.Fatal(err)
	}
	if got := practicePaths(roles(t, p)); !slices.Equal(got, before) {
		t.Fatalf("with max_items lowered to 4 the practice items are %v, were %v", got, before)
	}
	// Raised: the room goes to the practice-side test items of lowest hash.
	p.cfg.Practice.MaxItems = 15
	if _, err := p.ImportLabels(ctx, writeGold(t, all, truth), "", true, OnConflictError); err != nil {
		t.Fatal(err)
	}
	after := practicePaths(roles(t, p))
	var added []string
	for _, pth := range practiceSide(p, all) {
		if !slices.Contains(before, pth) && len(added) < 5 {
			added = append(added, pth)
		}
	}
	want := append(slices.Clone(before), added...)
	sort.Strings(want)
	if !slices.Equal(after, want) {
		t.Fatalf("with max_items raised to 15 the practice items are %v, want %v", after, want)
	}
}

// Init says how many practice pages a participant will do, and warns when
// they are more than three.
func TestInitSaysThePracticePages(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	_, gold := fmnistImages(t, base, 120, 80)
	var feats []byte
	for _, c := range []struct {
		name     string
		pageSize int
		want     []string
		warn     bool
	}{
		{"defaults", 0, []string{"init: practice: 20 items on 2 pages of 10 (gate all-correct)\n"}, false},
		{"page size 2", 2, []string{"init: practice: 20 items on 10 pages of 2 (gate all-correct)\n",
			"init: warning: a participant must pass 10 practice pages (more than 3) before labelling: raise [practice] page_size in winnow.toml, or give a new project a lower [practice] max_items"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(base, strings.ReplaceAll(c.name, " ", "-"))
			if feats != nil { // featurize once; init finds every image done
				os.MkdirAll(filepath.Join(dir, "features"), 0o755)
				os.WriteFile(filepath.Join(dir, FeaturesFile), feats, 0o644)
			}
			var log bytes.Buffer
			p, err := Init(ctx, dir, InitOptions{
				Images: filepath.Join(base, "images"), Classes: fmnistClasses(), Gold: gold, Batch: 5,
				PracticePageSize: c.pageSize, Threads: 2, Workers: 2, Log: &log, Progress: progress.Quiet,
			})
			if err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			defer p.Close()
			if feats == nil {
				feats, _ = os.ReadFile(filepath.Join(dir, FeaturesFile))
			}
			for _, w := range c.want {
				if !strings.Contains(log.String(), w) {
					t.Errorf("init's log does not say %q:\n%s", w, log.String())
				}
			}
			if got := strings.Contains(log.String(), "warning"); got != c.warn {
				t.Errorf("warning in init's log: %v, want %v:\n%s", got, c.warn, log.String())
			}
			if !strings.Contains(log.String(), "of which ") || !strings.Contains(log.String(), "(gold: 20 practice, 60 test") {
				t.Errorf("init's log does not give the capped split:\n%s", log.String())
			}
		})
	}
}

func TestPracticePlanLines(t *testing.T) {
	for _, c := range []struct {
		plan PracticePlan
		want []string
	}{
		{PracticePlan{Items: 20, Pages: 2, PageSize: 10, Gate: GateAllCorrect}, []string{"practice: 20 items on 2 pages of 10 (gate all-correct)"}},
		{PracticePlan{Items: 1, Pages: 1, PageSize: 10, Gate: GateAccuracy, MinAccuracy: 0.8}, []string{"practice: 1 item on 1 page of 10 (gate accuracy: a share right >= 0.8 per page)"}},
		{PracticePlan{Items: 40, Pages: 8, PageSize: 5, Gate: GateOff}, []string{"practice: 40 items on 8 pages of 5 (gate off: practice is optional, labelling opens at once)"}},
		{PracticePlan{Items: 10, Hidden: 1, Pages: 1, PageSize: 10, Gate: GateAllCorrect}, []string{"practice: 10 items on 1 page of 10 (gate all-correct); hidden gold keeps 1 more practice item off the pages"}},
		{PracticePlan{Items: 0, PageSize: 10, Gate: GateAllCorrect}, []string{"practice: no practice items: the Practice page is empty and labelling opens at once"}},
		{PracticePlan{Items: 16, Pages: 4, PageSize: 4, Gate: GateAccuracy, MinAccuracy: 0.5}, []string{
			"practice: 16 items on 4 pages of 4 (gate accuracy: a share right >= 0.5 per page)",
			"warning: a participant must pass 4 practice pages (more than 3) before labelling: raise [practice] page_size in winnow.toml, or give a new project a lower [practice] max_items (init --practice-max-items; it applies as gold is imported and never makes a practice item a test item)"}},
	} {
		if got := c.plan.Lines(); !slices.Equal(got, c.want) {
			t.Errorf("%+v:\n got %q\nwant %q", c.plan, got, c.want)
		}
	}
}

// The plan counts what the Practice page shows: with hidden gold on, the
// practice items reserved for it are off the pages.
func TestPracticePlanLeavesHiddenGoldOut(t *testing.T) {
	ctx := context.Background()
	p, truth := goldProject(t, 200, 20)
	if _, err := p.ImportLabels(ctx, writeGold(t, sortedPaths(truth), truth), "", true, OnConflictError); err != nil {
		t.Fatal(err)
	}
	pl, err := p.PracticePlan(ctx)
	if err != nil || pl.Items != 20 || pl.Hidden != 0 || pl.Pages != 2 {
		t.Fatalf("plan %+v, %v; want 20 items on 2 pages", pl, err)
	}
	p.Store().SetHiddenGold(0.1)
	pl, err = p.PracticePlan(ctx)
	if err != nil || pl.Items+pl.Hidden != 20 || pl.Hidden == 0 || pl.Pages != (pl.Items+9)/10 {
		t.Fatalf("plan with hidden gold %+v, %v; want the 20 split between the pages and hidden gold", pl, err)
	}
	shown, _ := p.Store().PracticeItems(ctx)
	if len(shown) != pl.Items {
		t.Fatalf("the Practice page shows %d items, the plan says %d", len(shown), pl.Items)
	}
}
