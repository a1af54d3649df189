package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/winnowml/winnow/internal/fmnist"
	"github.com/winnowml/winnow/internal/labelstore"
)

// TestProjectLoop drives the project verbs as a user would: init on real
// Fashion-MNIST PNGs (interrupted with Ctrl-C once, then resumed),
// import-labels, status, answers from three participants, round close.
func TestProjectLoop(t *testing.T) {
	images := fmnistFolder(t, 600)
	classOf := func(path string) string { return strings.SplitN(path, "/", 2)[0] }
	var rels []string
	filepath.WalkDir(images, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(images, p)
			rels = append(rels, filepath.ToSlash(rel))
		}
		return nil
	})
	if len(rels) != 600 {
		t.Fatalf("exported %d images", len(rels))
	}
	work := t.TempDir()
	// Gold: every 6th image (100), by its folder, which is its true class.
	var gold bytes.Buffer
	gold.WriteString("path,label\n")
	for i, r := range rels {
		if i%6 == 0 {
			fmt.Fprintf(&gold, "%s,%s\n", r, classOf(r))
		}
	}
	goldCSV := filepath.Join(work, "gold.csv")
	os.WriteFile(goldCSV, gold.Bytes(), 0o644)
	dir := filepath.Join(work, "proj")
	classes := strings.Join(fmnist.Classes, ",")

	// Bad input: clear errors naming the flag, nothing created.
	_, stderr, code := run(t, "init", dir, "--images", filepath.Join(work, "no-such-folder"), "--classes", classes)
	if code == 0 || !strings.Contains(stderr, "--images") {
		t.Fatalf("init with a missing image folder: code %d, %s", code, stderr)
	}
	_, stderr, code = run(t, "init", dir, "--images", images, "--classes", "coat")
	if code == 0 || !strings.Contains(stderr, "classes") {
		t.Fatalf("init with one class: code %d, %s", code, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a refused init created %s", dir)
	}

	// Ctrl-C during featurize stops init; the same command resumes.
	args := []string{"init", dir, "--images", images, "--classes", classes, "--gold", goldCSV, "--batch", "10",
		"--describe", "coat=Outerwear: long sleeves, buttons or a zip", "-q"}
	cmd := exec.Command(winnow, args...)
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	parts := filepath.Join(dir, "features", "features.parquet.parts")
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(parts); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	interrupted := err != nil
	if interrupted && !strings.Contains(errBuf.String(), "resume") {
		t.Fatalf("interrupted init says: %s", errBuf.String())
	}
	if !interrupted {
		t.Log("init finished before Ctrl-C reached it; the resume is not exercised")
	}
	out, stderr, code := run(t, args...)
	if code != 0 {
		t.Fatalf("init: %s\n%s", stderr, out)
	}
	if interrupted && !strings.Contains(stderr, "resuming") {
		t.Fatalf("the second init did not resume: %s", stderr)
	}
	for _, want := range []string{"600 images registered", "gold labels", "round 1 is open with 10 images"} {
		if !strings.Contains(stderr, want) {
			t.Fatalf("init output lacks %q:\n%s", want, stderr)
		}
	}
	toml, _ := os.ReadFile(filepath.Join(dir, "winnow.toml"))
	if !bytes.Contains(toml, []byte(`"Outerwear: long sleeves, buttons or a zip"`)) && !bytes.Contains(toml, []byte("Outerwear: long sleeves, buttons or a zip")) {
		t.Fatalf("winnow.toml lacks the coat description:\n%s", toml)
	}
	_, stderr, code = run(t, args...)
	if code == 0 || !strings.Contains(stderr, "already a winnow project") {
		t.Fatalf("init on an existing project: code %d, %s", code, stderr)
	}

	// import-labels reports what it cannot use and imports the rest.
	extra := filepath.Join(work, "extra.csv")
	os.WriteFile(extra, []byte(fmt.Sprintf("path,label\n%s,%s\nnot/there.png,coat\n%s,zebra\n", rels[1], classOf(rels[1]), rels[2])), 0o644)
	out, stderr, code = run(t, "import-labels", dir, extra)
	if code != 0 || !strings.Contains(out, "1 label imported") || !strings.Contains(out, "1 unknown path ") || !strings.Contains(out, `"zebra": 1`) {
		t.Fatalf("import-labels: code %d\n%s\n%s", code, out, stderr)
	}
	_, stderr, code = run(t, "import-labels", filepath.Join(work, "nowhere"), extra)
	if code == 0 || !strings.Contains(stderr, "not a winnow project") {
		t.Fatalf("import-labels into a missing project: %d %s", code, stderr)
	}

	out, _, code = run(t, "status", dir)
	if code != 0 || !regexp.MustCompile(`(?m)^1\s+open\s+10\s+0\s+0`).MatchString(out) || !regexp.MustCompile(`(?m)^0\s+\d+\s+\d+\s+0\.\d{3}`).MatchString(out) {
		t.Fatalf("status before answers:\n%s", out)
	}

	// Three participants answer round 1 through the store (the web's path):
	// two give the true class, one a wrong one.
	st, err := labelstore.Open(filepath.Join(dir, "winnow.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := st.CurrentRound(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sessions []*labelstore.Session
	for _, n := range []string{"ann", "bob", "cat"} {
		s, err := st.NewSession(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	for _, id := range r.Picks {
		it, _ := st.Item(ctx, id)
		truth := classOf(it.Path)
		for k, s := range sessions {
			class := truth
			if k == 2 {
				class = map[bool]string{true: "coat", false: "bag"}[truth == "bag"]
			}
			if _, err := st.Record(ctx, labelstore.Answer{SessionID: s.ID, ItemID: id, RoundID: r.ID, Kind: labelstore.KindLabel, Class: class}); err != nil {
				t.Fatal(err)
			}
		}
	}
	st.Close()

	out, stderr, code = run(t, "round", "close", dir)
	if code != 0 {
		t.Fatalf("round close: %s\n%s", stderr, out)
	}
	for _, want := range []string{"round 1 closed: 10 picks: labelled 10, tie 0", "round 2 is open with 10 images", "gold test items: accuracy"} {
		if !strings.Contains(out, want) {
			t.Fatalf("round close output lacks %q:\n%s", want, out)
		}
	}
	labels, _ := os.ReadFile(filepath.Join(dir, "labels", "round-1.csv"))
	for _, line := range strings.Split(strings.TrimSpace(string(labels)), "\n")[1:] {
		path, lab, _ := strings.Cut(line, ",")
		if classOf(path) != lab {
			t.Fatalf("training label %s for %s, whose class is %s", lab, path, classOf(path))
		}
	}
	for _, f := range []string{"models/round-1.json", "reports/round-1.html", "picks/round-2.csv"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("round close left no %s: %v", f, err)
		}
	}
	out, _, _ = run(t, "status", dir)
	if !regexp.MustCompile(`(?m)^1\s+closed\s+10\s+10\s+3`).MatchString(out) || !regexp.MustCompile(`(?m)^2\s+open\s+10`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^1\s+\d+\s+\d+\s+0\.\d{3}`).MatchString(out) {
		t.Fatalf("status after the close:\n%s", out)
	}
}
