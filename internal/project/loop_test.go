package project

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/fmnist"
	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/progress"
)

// fmnistImages writes the first n Fashion-MNIST training images as PNGs
// under dir/<class>/<index>.png and returns their true classes by path, and
// a gold CSV of the first nGold of them.
func fmnistImages(t *testing.T, dir string, n, nGold int) (map[string]string, string) {
	t.Helper()
	if !fmnist.Available(fmnist.Dir) {
		t.Fatalf("Fashion-MNIST is not installed in %s (make deps)", fmnist.Dir)
	}
	set, err := fmnist.Load(fmnist.Dir, "train", n)
	if err != nil {
		t.Fatal(err)
	}
	truth := map[string]string{}
	var gold bytes.Buffer
	gold.WriteString("path,label\n")
	for i := range set.Images {
		class := fmnist.Classes[set.Labels[i]]
		rel := fmt.Sprintf("%s/%05d.png", class, i)
		if err := set.WritePNG(i, filepath.Join(dir, "images", filepath.FromSlash(rel))); err != nil {
			t.Fatal(err)
		}
		truth[rel] = class
		if i < nGold {
			fmt.Fprintf(&gold, "%s,%s\n", rel, class)
		}
	}
	goldPath := filepath.Join(dir, "gold.csv")
	if err := os.WriteFile(goldPath, gold.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return truth, goldPath
}

func fmnistClasses() []Class {
	var cs []Class
	for _, c := range fmnist.Classes {
		cs = append(cs, Class{Name: c, Description: "a " + c})
	}
	return cs
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestInitAnswerCloseRound(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	truth, gold := fmnistImages(t, base, 240, 80)
	dir := filepath.Join(base, "proj")
	var log bytes.Buffer
	// Practice uncapped ([practice] max_items 80, all the gold): how
	// Dawid-Skene settles pick 0 below depends on round 1's picks, which
	// come from the model of the practice items, and the answers were
	// written for the model of every practice-side item (about 40 of 80).
	p, err := Init(ctx, dir, InitOptions{
		Images: filepath.Join(base, "images"), Classes: fmnistClasses(), Gold: gold,
		Batch: 12, Threads: 2, Workers: 2, Log: &log, Progress: progress.Quiet, PracticeMaxItems: 80,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	defer p.Close()
	st := p.Store()

	// Every image registered, with the sha256 featurize computed.
	items, _ := st.Items(ctx)
	if len(items) != len(truth) {
		t.Fatalf("%d items registered, want %d", len(items), len(truth))
	}
	c, _ := st.Count(ctx)
	if c.Practice+c.Test != 80 || c.Practice == 0 || c.Test == 0 {
		t.Fatalf("gold split %d practice + %d test, want 80 gold in both roles", c.Practice, c.Test)
	}
	for _, it := range items {
		if (it.Gold != "") != (it.Role != labelstore.RolePool) || (it.Gold != "" && it.Gold != truth[it.Path]) || len(it.SHA256) != 64 {
			t.Fatalf("item %+v: gold, role or sha256 wrong", it)
		}
	}
	// The model of init trained on the practice gold only, and was tested
	// on the test gold.
	ms, _ := st.Metrics(ctx)
	if len(ms) != 1 || ms[0].Round != 0 || ms[0].Labels != c.Practice || ms[0].TestItems == 0 || ms[0].TestItems > c.Test {
		t.Fatalf("init metrics %+v, want round 0 trained on %d practice items, tested on <= %d", ms, c.Practice, c.Test)
	}
	if p.ModelPath() == "" || p.ReportPath(0) == "" {
		t.Fatalf("init left no model (%q) or report (%q)", p.ModelPath(), p.ReportPath(0))
	}
	r1, err := st.CurrentRound(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Number != 1 || r1.State != labelstore.StateOpen || len(r1.Picks) != 12 {
		t.Fatalf("round after init: %+v", r1)
	}
	pickPath := map[labelstore.ItemID]string{}
	for _, id := range r1.Picks {
		it, _ := st.Item(ctx, id)
		if it.Role != labelstore.RolePool {
			t.Fatalf("round 1 picked a gold item %+v", it)
		}
		pickPath[id] = it.Path
		if _, err := p.ImagePath(ctx, id); err != nil {
			t.Fatalf("pick %s: %v", it.Path, err)
		}
	}
	// init again refuses: the project exists.
	if _, err := Init(ctx, dir, InitOptions{Images: filepath.Join(base, "images"), Classes: fmnistClasses()}); !errors.Is(err, ErrExists) {
		t.Fatalf("a second init: %v, want ErrExists", err)
	}

	// Three participants answer. Pick 0 ties, pick 1 is "none of these",
	// pick 2 is flagged "bad example" by most; the rest get the truth from
	// two participants and a wrong class from the third.
	ann, _ := st.NewSession(ctx, "ann")
	bob, _ := st.NewSession(ctx, "bob")
	cat, _ := st.NewSession(ctx, "cat")
	wrong := func(class string) string {
		if class == "bag" {
			return "coat"
		}
		return "bag"
	}
	rec := func(s *labelstore.Session, id labelstore.ItemID, class string, mods ...string) {
		a := labelstore.Answer{SessionID: s.ID, ItemID: id, RoundID: r1.ID, Kind: labelstore.KindLabel, Class: class}
		for _, m := range mods {
			switch m {
			case "none":
				a.None, a.Class = true, ""
			case "bad":
				a.Bad = true
			}
		}
		if _, err := st.Record(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for k, id := range r1.Picks {
		tr := truth[pickPath[id]]
		switch k {
		case 0:
			rec(ann, id, tr)
			rec(bob, id, wrong(tr))
			rec(cat, id, "", "none")
		case 1:
			rec(ann, id, "", "none")
			rec(bob, id, "", "none")
			rec(cat, id, tr)
		case 2:
			rec(ann, id, tr, "bad")
			rec(bob, id, tr, "bad")
			rec(cat, id, tr)
		default:
			rec(ann, id, tr)
			rec(bob, id, tr)
			rec(cat, id, wrong(tr))
		}
	}

	// A participant keeps answering while the round closes: every answer is
	// either saved or refused with ErrRoundClosed, and none is saved after
	// the first refusal.
	late, _ := st.NewSession(ctx, "late")
	var saved, refused int
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var lateErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, err := st.Record(ctx, labelstore.Answer{SessionID: late.ID, ItemID: r1.Picks[5], RoundID: r1.ID, Kind: labelstore.KindLabel, Class: "bag"})
			switch {
			case err == nil && refused > 0:
				lateErr = errors.New("an answer was saved after the round started closing")
				return
			case err == nil:
				saved++
			case errors.Is(err, labelstore.ErrRoundClosed):
				refused++
			default:
				lateErr = err
				return
			}
		}
	}()
	res, err := p.CloseRound(ctx)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if lateErr != nil {
		t.Fatal(lateErr)
	}
	if refused == 0 {
		t.Fatal("no answer was refused during and after the close")
	}
	hist, _ := st.RoundAnswers(ctx, r1.ID)
	stored := 0
	for _, a := range hist {
		if a.SessionID == late.ID {
			stored++
		}
	}
	if stored != saved {
		t.Fatalf("%d answers acknowledged to the late participant, %d stored", saved, stored)
	}

	// Four participants answered round 1, so Dawid-Skene decides: pick 0's
	// three-way tie under majority vote goes to the class of ann, whom the
	// other picks show to be the reliable one (majority's ties are tested
	// in labelstore).
	want := map[string]int{labelstore.Labelled: 10, labelstore.Tie: 0, labelstore.NoneOfThem: 1, labelstore.Flagged: 1}
	for s, n := range want {
		if res.Status[s] != n {
			t.Errorf("status %s: %d, want %d (all: %v)", s, res.Status[s], n, res.Status)
		}
	}
	if len(res.Ties) != 0 {
		t.Fatalf("ties %+v, want none (Dawid-Skene decides)", res.Ties)
	}
	// The training labels: practice gold plus the 10 consensus labels, all
	// true; no test item.
	labels := readCSV(t, filepath.Join(dir, "labels", "round-1.csv"))
	if len(labels)-1 != c.Practice+10 || res.TrainRows != c.Practice+10 {
		t.Fatalf("training labels: %d rows in the file, %d trained, want %d", len(labels)-1, res.TrainRows, c.Practice+10)
	}
	for _, rec := range labels[1:] {
		it, _ := st.ItemByPath(ctx, rec[0])
		if it.Role == labelstore.RoleTest {
			t.Fatalf("test item %s trains", rec[0])
		}
		if rec[1] != truth[rec[0]] {
			t.Fatalf("%s trains as %s, truth %s", rec[0], rec[1], truth[rec[0]])
		}
	}
	for _, k := range []int{1, 2} {
		for _, rec := range labels[1:] {
			if rec[0] == pickPath[r1.Picks[k]] {
				t.Fatalf("pick %d (none/flagged) trains", k)
			}
		}
	}
	// The model, its evaluation and the next round.
	if res.Model == "" || res.Metrics == nil || res.Metrics.Round != 1 || res.Metrics.TestItems == 0 {
		t.Fatalf("close result %+v", res)
	}
	if p.ReportPath(1) == "" {
		t.Fatal("no report for round 1")
	}
	html, _ := os.ReadFile(p.ReportPath(1))
	if !bytes.Contains(html, []byte("<svg")) && !bytes.Contains(html, []byte("<table")) {
		t.Fatal("the round 1 report has neither plots nor tables")
	}
	set, err := dataset.Load(filepath.Join(dir, FeaturesFile), filepath.Join(dir, "labels", "round-1.csv"), dataset.Options{})
	if err != nil || len(set.Paths) != res.TrainRows {
		t.Fatalf("the training labels do not load against the features: %v", err)
	}
	if res.Next == nil || res.Next.Number != 2 || len(res.Next.Picks) != 12 {
		t.Fatalf("next round %+v", res.Next)
	}
	decided := map[labelstore.ItemID]bool{r1.Picks[0]: true, r1.Picks[1]: true}
	for k := 3; k < 12; k++ {
		decided[r1.Picks[k]] = true
	}
	for _, id := range res.Next.Picks {
		it, _ := st.Item(ctx, id)
		if decided[id] || it.Role != labelstore.RolePool {
			t.Fatalf("round 2 picked %+v, which is labelled, gold or none-of-these", it)
		}
	}
	if pr := p.Progress(); pr.Running || pr.Stage != "done" || pr.Err != "" {
		t.Fatalf("progress after the close: %+v", pr)
	}
	ms, _ = st.Metrics(ctx)
	if len(ms) != 2 || ms[1].Labels != c.Practice+10 {
		t.Fatalf("metrics after round 1: %+v", ms)
	}
	var cons bytes.Buffer
	if err := p.ConsensusCSV(ctx, &cons); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cons.String(), pickPath[r1.Picks[0]]+","+truth[pickPath[r1.Picks[0]]]+",dawid-skene,labelled") {
		t.Fatalf("consensus CSV does not list majority's tie as decided by Dawid-Skene:\n%s", cons.String())
	}

	// A cancelled close leaves the round open and taking answers.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.CloseRound(cctx); err == nil {
		t.Fatal("a cancelled close succeeded")
	}
	cur, _ := st.CurrentRound(ctx)
	if cur.Number != 2 || cur.State != labelstore.StateOpen {
		t.Fatalf("after a cancelled close: round %d %s, want 2 open", cur.Number, cur.State)
	}
	if _, err := st.Record(ctx, labelstore.Answer{SessionID: ann.ID, ItemID: cur.Picks[0], RoundID: cur.ID, Kind: labelstore.KindLabel, Class: "bag"}); err != nil {
		t.Fatalf("answering after a cancelled close: %v", err)
	}
	if pr := p.Progress(); pr.Running || pr.Err == "" {
		t.Fatalf("progress after a cancelled close: %+v, want the error", pr)
	}

	// Without gold there is no model at init: round 1 is a seeded random
	// sample, and the first close that sees two classes trains one (not
	// evaluated: no test items). The features are copied over, so this
	// init's featurize only checks that every image is done.
	dir2 := filepath.Join(base, "nogold")
	os.MkdirAll(filepath.Join(dir2, "features"), 0o755)
	feats, _ := os.ReadFile(filepath.Join(dir, FeaturesFile))
	os.WriteFile(filepath.Join(dir2, FeaturesFile), feats, 0o644)
	q, err := Init(ctx, dir2, InitOptions{Images: filepath.Join(base, "images"), Classes: fmnistClasses(), Batch: 8,
		Progress: progress.Quiet, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q.ModelPath() != "" {
		t.Fatalf("a model without labels: %s", q.ModelPath())
	}
	nr, _ := q.Store().CurrentRound(ctx)
	if len(nr.Picks) != 8 {
		t.Fatalf("random first round has %d picks, want 8", len(nr.Picks))
	}
	sess, _ := q.Store().NewSession(ctx, "")
	classesSeen := map[string]bool{}
	for _, id := range nr.Picks {
		it, _ := q.Store().Item(ctx, id)
		classesSeen[truth[it.Path]] = true
		if _, err := q.Store().Record(ctx, labelstore.Answer{SessionID: sess.ID, ItemID: id, RoundID: nr.ID, Kind: labelstore.KindLabel, Class: truth[it.Path]}); err != nil {
			t.Fatal(err)
		}
	}
	if len(classesSeen) < 2 {
		t.Skip("the random sample has one class only; nothing to train")
	}
	res2, err := q.CloseRound(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Model == "" || res2.TrainRows != 8 || res2.Metrics == nil || res2.Metrics.TestItems != 0 || res2.Next == nil {
		t.Fatalf("first close without gold: %+v", res2)
	}
	for _, id := range res2.Next.Picks {
		if slices.Contains(nr.Picks, id) {
			t.Fatalf("round 2 repeats labelled item %d", id)
		}
	}
}

func TestImportLabelsCountsWhatItCannotUse(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "images")
	os.MkdirAll(root, 0o755)
	p := bareProject(t, root)
	ctx := context.Background()
	p.Store().AddItems(ctx, []labelstore.Item{{Path: "x/1.png"}, {Path: "x/2.png"}, {Path: "x/3.png"}, {Path: "x/4.png"}})
	file := filepath.Join(base, "l.csv")
	os.WriteFile(file, []byte("path,label\nx/1.png,a\nx/2.png,zebra\nnope.png,a\nx/3.png,\n./x/4.png,b\n"), 0o644)
	res, err := p.ImportLabels(ctx, file, "", false, OnConflictError)
	if err != nil {
		t.Fatal(err)
	}
	// The empty label is "none of these": imported, and counted as such.
	if res.Imported != 3 || res.None != 1 || res.UnknownPaths != 1 || res.UnknownClasses["zebra"] != 1 {
		t.Fatalf("import result %+v (%s)", res, res)
	}
	it, _ := p.Store().ItemByPath(ctx, "x/4.png")
	if it.Label != "b" || it.Gold != "" {
		t.Fatalf("x/4.png after import: %+v", it)
	}
	if it, _ := p.Store().ItemByPath(ctx, "x/3.png"); it.Label != labelstore.NoneOption {
		t.Fatalf("x/3.png (empty label) after import: %+v", it)
	}
	// Gold: every item lands in practice or test, the same way each time;
	// the none row is no gold.
	res, err = p.ImportLabels(ctx, file, "", true, OnConflictError)
	if err != nil {
		t.Fatal(err)
	}
	if res.Practice+res.Test != 2 || res.None != 1 {
		t.Fatalf("gold import %+v", res)
	}
	first, _ := p.Store().Items(ctx)
	res, err = p.ImportLabels(ctx, file, "", true, OnConflictError)
	if err != nil || res.Unchanged != 3 {
		t.Fatalf("the same gold file again: %+v, %v", res, err)
	}
	again, _ := p.Store().Items(ctx)
	for i := range first {
		if first[i].Role != again[i].Role {
			t.Fatalf("gold split changed between imports: %+v vs %+v", first[i], again[i])
		}
	}
	// A file giving a path two labels imports nothing, under two spellings
	// of the path too.
	for _, body := range []string{"path,label\nx/2.png,a\nx/2.png,b\n", "path,label\nx/2.png,a\n./x/2.png,b\n"} {
		os.WriteFile(file, []byte(body), 0o644)
		if _, err := p.ImportLabels(ctx, file, "", false, OnConflictError); err == nil || !strings.Contains(err.Error(), "x/2.png") {
			t.Fatalf("conflicting labels %q: %v", body, err)
		}
		if it, _ := p.Store().ItemByPath(ctx, "x/2.png"); it.Label != "" {
			t.Fatalf("a refused file still imported %+v", it)
		}
	}
}

// A gold or imported label is never changed silently: the import lists
// every conflict and changes nothing, unless told to replace, and then it
// says what it replaced.
func TestImportLabelsRefusesToChangeALabel(t *testing.T) {
	ctx := context.Background()
	for _, gold := range []bool{true, false} {
		t.Run(fmt.Sprint("gold=", gold), func(t *testing.T) {
			base := t.TempDir()
			root := filepath.Join(base, "images")
			os.MkdirAll(root, 0o755)
			p := bareProject(t, root)
			p.Store().AddItems(ctx, []labelstore.Item{{Path: "1.png"}, {Path: "2.png"}, {Path: "3.png"}})
			write := func(body string) string {
				f := filepath.Join(base, fmt.Sprintf("f%d.csv", len(body)))
				os.WriteFile(f, []byte(body), 0o644)
				return f
			}
			if _, err := p.ImportLabels(ctx, write("path,label\n1.png,a\n2.png,a\n"), "", gold, OnConflictError); err != nil {
				t.Fatal(err)
			}
			before, _ := p.Store().Items(ctx)
			changed := write("path,label\n1.png,b\n2.png,a\n3.png,b\n")
			_, err := p.ImportLabels(ctx, changed, "", gold, OnConflictError)
			var ce *ConflictError
			if !errors.As(err, &ce) || len(ce.Changes) != 1 || ce.Changes[0] != (Change{Path: "1.png", Old: "a", New: "b"}) || !strings.Contains(err.Error(), changed) {
				t.Fatalf("changing 1.png a -> b: %v", err)
			}
			if after, _ := p.Store().Items(ctx); !slices.Equal(before, after) {
				t.Fatalf("a refused import changed the items:\n%+v\n%+v", before, after)
			}
			res, err := p.ImportLabels(ctx, changed, "", gold, OnConflictReplace)
			if err != nil || len(res.Replaced) != 1 || res.Unchanged != 1 || !strings.Contains(res.String(), "1 label replaced") {
				t.Fatalf("--on-conflict replace: %+v (%s), %v", res, res, err)
			}
			it, _ := p.Store().ItemByPath(ctx, "1.png")
			if got := map[bool]string{true: it.Gold, false: it.Label}[gold]; got != "b" {
				t.Fatalf("1.png after replace: %+v", it)
			}
		})
	}
}

// A participant's empty or "none" label is their answer "none of these":
// a vote for none, not a row dropped.
func TestImportParticipantNoneOfThese(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "images")
	os.MkdirAll(root, 0o755)
	p := bareProject(t, root)
	ctx := context.Background()
	p.Store().AddItems(ctx, []labelstore.Item{{Path: "1.png"}, {Path: "2.png"}, {Path: "3.png"}})
	file := filepath.Join(base, "anna.csv")
	os.WriteFile(file, []byte("path,label\n1.png,\n2.png,None\n3.png,a\n"), 0o644)
	res, err := p.ImportParticipant(ctx, file, "", "Anna")
	if err != nil || res.Imported != 3 || res.None != 2 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	votes, err := p.Store().Votes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	none := map[string]bool{}
	items, _ := p.Store().Items(ctx)
	for _, v := range votes {
		for _, it := range items {
			if it.ID == v.ItemID {
				none[it.Path] = v.None
			}
		}
	}
	if len(votes) != 3 || !none["1.png"] || !none["2.png"] || none["3.png"] {
		t.Fatalf("votes %+v: want none of these for 1.png and 2.png", votes)
	}
}
