package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeStopsPromptlyOnSIGINT: with no request in flight, Ctrl-C must
// end serve at once. Issue 19 sets the bound, 1 s; the time is logged.
// Before stopping, the test leaves what a browser leaves: an idle
// keep-alive connection and a connection opened but never used (browsers
// preconnect), neither of which is a request in flight.
func TestServeStopsPromptlyOnSIGINT(t *testing.T) {
	proj := webProject(t, webProjectOptions{perClass: 8, gold: 2, batch: 4, pageSize: 5, gate: "all-correct"})
	s := startServe(t, proj, "tok")
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer /healthz in 20 s: %v\n%s", err, s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	pre, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer pre.Close()
	time.Sleep(100 * time.Millisecond) // let the server accept it

	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		took := time.Since(start)
		t.Logf("serve exited %v after SIGINT (%v)", took, err)
		if took > time.Second {
			t.Errorf("serve took %v to stop after SIGINT with no request in flight, want under 1 s\n%s", took, s.logs)
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		t.Fatalf("serve did not stop within 30 s of SIGINT\n%s", s.logs)
	}
}

// TestManifestOtherSchemesAreBadURLs: ftp://, gopher:// and file:// entries
// are error rows of kind bad-url. Before, they were joined to the
// manifest's folder as paths: a real image at DIR/ftp:/h.example/a.png was
// featurized in the URL's name, the others failed as missing files.
func TestManifestOtherSchemesAreBadURLs(t *testing.T) {
	work := t.TempDir()
	img, err := os.ReadFile(repo("testdata/images/orient/orient-1.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"local.jpg", "ftp:/h.example/a.jpg"} {
		p := filepath.Join(work, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, img, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	urls := []string{"ftp://h.example/a.jpg", "gopher://h.example/b.jpg", "file://" + filepath.Join(work, "local.jpg")}
	manifest := filepath.Join(work, "manifest.txt")
	if err := os.WriteFile(manifest, []byte("local.jpg\n"+strings.Join(urls, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs := filepath.Join(work, "f.parquet"), filepath.Join(work, "errors.jsonl")
	runOK(t, "featurize", manifest, "-o", out, "--model", tiny, "--errors", errs, "-q")
	if rows := rowsOf(t, out); len(rows) != 1 || rows["local.jpg"] == nil {
		t.Errorf("rows %v, want local.jpg alone", slices.Sorted(maps.Keys(rows)))
	}
	data, err := os.ReadFile(errs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec struct{ Path, Error, Kind string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("errors file line %q: %v", line, err)
		}
		got[rec.Path] = rec.Kind
		if !strings.Contains(rec.Error, "http://, https:// or s3://") {
			t.Errorf("%s: error %q does not name the schemes that are fetched", rec.Path, rec.Error)
		}
	}
	for _, u := range urls {
		if got[u] != "bad-url" {
			t.Errorf("%s: kind %q, want bad-url (errors file: %s)", u, got[u], data)
		}
	}
}

// TestTrainQuiet: train -q drops the cross-validation's line per grid point
// (its progress, as -q drops featurize's bar) and keeps the table, the
// choice and the summary.
func TestTrainQuiet(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("path,a,b,c,label\n")
	for i := 0; i < 60; i++ {
		c := i % 3
		v := []float64{float64(i%7) / 7, float64(i%5) / 5, float64(i%11) / 11}
		v[c] += 2
		fmt.Fprintf(&b, "r%02d.png,%g,%g,%g,k%d\n", i, v[0], v[1], v[2], c)
	}
	data := filepath.Join(dir, "d.csv")
	if err := os.WriteFile(data, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, quiet := range []bool{false, true} {
		args := []string{"train", "--features", data, "--labels", data, "--cv", "3", "-o", filepath.Join(dir, fmt.Sprintf("m-%v.json", quiet))}
		if quiet {
			args = append(args, "-q")
		}
		stdout, stderr, code := run(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
		progress := regexp.MustCompile(`(?m)^train: cv +\d+/\d+ `).FindAllString(stderr, -1)
		if quiet && len(progress) != 0 || !quiet && len(progress) == 0 {
			t.Errorf("%v: %d progress lines\n%s", args, len(progress), stderr)
		}
		for _, want := range []string{"train: 60 rows x 3 features, 3 classes", "<- chosen", "3-fold cross-validation chose l1=", "train: converged after", "train: wrote "} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%v: no %q in\n%s", args, want, stderr)
			}
		}
		if stdout != "" {
			t.Errorf("%v: stdout %q", args, stdout)
		}
	}
}

// TestRoundCloseOrder: round close prints each stage's lines in the order
// the stages ran: consensus, train, evaluate, select, open. Before, every
// note (the selection's among them) came before the training's line.
func TestRoundCloseOrder(t *testing.T) {
	proj := webProject(t, webProjectOptions{perClass: 8, gold: 2, batch: 4, pageSize: 5, gate: "all-correct"})
	var both bytes.Buffer
	cmd := exec.Command(winnow, "round", "close", proj)
	cmd.Stdout, cmd.Stderr = &both, &both // one pipe: the order as a terminal shows it
	if err := cmd.Run(); err != nil {
		t.Fatalf("round close: %v\n%s", err, both.String())
	}
	out := both.String()
	t.Logf("round close:\n%s", out)
	last := -1
	for _, want := range []string{"round 1 closed: 4 picks", "trained ", "gold test items: accuracy", "round close: select: ", "round 2 is open with 4 images"} {
		i := strings.Index(out, want)
		if i < 0 {
			t.Fatalf("no %q in\n%s", want, out)
		}
		if i < last {
			t.Errorf("%q comes before the line of an earlier stage:\n%s", want, out)
		}
		last = i
	}
}

// TestSelectFirstBatchWithoutModel: with no labels yet there is no model,
// and select picks a seeded random first batch: the rows --strategy random
// picks with a model, so the first batch does not depend on having one.
func TestSelectFirstBatchWithoutModel(t *testing.T) {
	dir := t.TempDir()
	pool, model := writePool(t, dir, 300, 8)
	p := func(name string) string { return filepath.Join(dir, name) }
	_, stderr := runOK(t, "select", "--features", pool, "-n", "20", "-o", p("first.csv"))
	if !strings.Contains(stderr, "no --model") || !strings.Contains(stderr, "random") {
		t.Errorf("select without a model does not say it picked at random:\n%s", stderr)
	}
	first := readCSV(t, p("first.csv"))
	if strings.Join(first[0], ",") != "path,rank,score,label" || len(first) != 21 {
		t.Fatalf("first.csv: header %v, %d rows, want path,rank,score,label and 20", first[0], len(first)-1)
	}
	picked := map[string]bool{}
	for i, r := range first[1:] {
		if r[1] != fmt.Sprint(i+1) || r[3] != "" || picked[r[0]] {
			t.Errorf("row %d: %v", i+1, r)
		}
		picked[r[0]] = true
	}
	runOK(t, "select", "--features", pool, "--model", model, "--strategy", "random", "--novelty-share", "0", "-n", "20", "-o", p("random.csv"))
	for i, r := range readCSV(t, p("random.csv"))[1:] {
		if r[0] != first[i+1][0] {
			t.Errorf("pick %d: %s without a model, %s with --strategy random", i+1, first[i+1][0], r[0])
		}
	}
	// The next batch leaves out the first, as with a model.
	runOK(t, "select", "--features", pool, "-n", "20", "--exclude", p("first.csv"), "-o", p("second.csv"))
	for _, r := range readCSV(t, p("second.csv"))[1:] {
		if picked[r[0]] {
			t.Errorf("second batch repeats %s", r[0])
		}
	}
	// A strategy that needs a model says so.
	_, stderr, code := run(t, "select", "--features", pool, "--strategy", "entropy", "-n", "20", "-o", p("x.csv"))
	if code != 2 || !strings.Contains(stderr, "--model") {
		t.Errorf("--strategy entropy without --model: exit %d\n%s", code, stderr)
	}
}

// TestCountsOfOne: messages say "1 class", "1 feature", not "1 classes".
func TestCountsOfOne(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("path,x,label\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "r%02d.png,%d,k%d\n", i, i%2*4+i%3, i%2)
	}
	data := filepath.Join(dir, "d.csv")
	if err := os.WriteFile(data, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr := runOK(t, "train", "--features", data, "--labels", data, "-o", filepath.Join(dir, "m.json"))
	if !strings.Contains(stderr, "train: 20 rows x 1 feature, 2 classes") {
		t.Errorf("train says:\n%s", stderr)
	}

	if _, err := os.Stat(repo(".deps/backbones/mobilenet-v2.onnx")); err != nil {
		t.Skip("the built-in backbones are not installed (make deps)")
	}
	// Gold of one class only: the project cannot train yet, and says so.
	gold := filepath.Join(dir, "gold.csv")
	if err := os.WriteFile(gold, []byte("path,label\nt-shirt/00019.png,t-shirt\nt-shirt/00027.png,t-shirt\nt-shirt/00035.png,t-shirt\n"+
		"t-shirt/00059.png,t-shirt\nt-shirt/00071.png,t-shirt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr = runOK(t, "init", filepath.Join(dir, "proj"), "--images", repo("testdata/images/fmnist"), "--classes", "t-shirt,bag,coat",
		"--gold", gold, "--batch", "3", "-q")
	if !regexp.MustCompile(`not trained: \d+ labelled items? in 1 class;`).MatchString(stderr) {
		t.Errorf("init says:\n%s", stderr)
	}
}
