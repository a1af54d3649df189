package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/winnowml/winnow/internal/fmnist"
)

// shoeFolder writes n Fashion-MNIST images of each of three shoe classes
// into dir/photos/{boot,sandal,sneaker}/ and one corrupt PNG directly under
// photos/, and returns the paths of each class as featurize records them.
func shoeFolder(t *testing.T, dir string, n int) map[string][]string {
	t.Helper()
	if !fmnist.Available(fmnist.Dir) {
		t.Skip("dataset-fashion-mnist is not installed (make deps installs it)")
	}
	set, err := fmnist.Load(fmnist.Dir, "t10k", 40*n)
	if err != nil {
		t.Fatal(err)
	}
	folders := map[int]string{5: "sandal", 7: "sneaker", 9: "boot"}
	out := map[string][]string{}
	for i := range set.Images {
		name, ok := folders[int(set.Labels[i])]
		if !ok || len(out[name]) == n {
			continue
		}
		p := fmt.Sprintf("%s/%05d.png", name, i)
		if err := set.WritePNG(i, filepath.Join(dir, "photos", p)); err != nil {
			t.Fatal(err)
		}
		out[name] = append(out[name], p)
	}
	// A failed file makes featurize print a "skipped" line: it must be
	// plain text in a redirected stderr.
	if err := os.WriteFile(filepath.Join(dir, "photos", "broken.png"), []byte("\x89PNG\r\n\x1a\nnot really"), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLabelSources(t *testing.T) {
	dir := t.TempDir()
	classes := shoeFolder(t, dir, 8)
	p := func(name string) string { return filepath.Join(dir, name) }
	feats := p("f.parquet")

	// featurize with stderr redirected to a file: no carriage returns or
	// escape codes, and "already done" counted apart from "failed".
	logf, err := os.Create(p("featurize.log"))
	if err != nil {
		t.Fatal(err)
	}
	code := runTo(t, logf, "featurize", p("photos"), "-o", feats, "--model", "pixels:8x8:gray")
	logf.Close()
	log, _ := os.ReadFile(p("featurize.log"))
	if code != 0 {
		t.Fatalf("featurize: exit %d\n%s", code, log)
	}
	if strings.ContainsAny(string(log), "\r\x1b") {
		t.Errorf("featurize wrote \\r or escape codes into a file:\n%q", log)
	}
	if !strings.Contains(string(log), "skipped broken.png") || !strings.Contains(string(log), "already done 0") || !strings.Contains(string(log), "failed 1") {
		t.Errorf("featurize's log lacks the skipped line or the summary's counts:\n%s", log)
	}
	_, stderr, _ := run(t, "featurize", p("photos"), "-o", feats, "--model", "pixels:8x8:gray")
	if !strings.Contains(stderr, fmt.Sprintf("already done %d", 24)) || !strings.Contains(stderr, "failed 1") {
		t.Errorf("a resumed run must count the done images apart from the failed one:\n%s", stderr)
	}
	if out, _, _ := run(t, "featurize", "--help"); !regexp.MustCompile(`--model NAME\|FILE\s`).MatchString(out) {
		t.Errorf("featurize --help does not show --model NAME|FILE:\n%s", out)
	}

	// labels from-folders: one row per image in a class folder.
	_, stderr, code = run(t, "labels", "from-folders", p("photos"), "-o", p("all.csv"))
	if code != 0 {
		t.Fatalf("labels from-folders: exit %d\n%s", code, stderr)
	}
	all := readCSVFile(t, p("all.csv"))
	if len(all) != 25 || all[0][0] != "path" || all[0][1] != "label" {
		t.Fatalf("from-folders wrote %d lines, header %v; want 24 rows", len(all), all[0])
	}
	for _, r := range all[1:] {
		if !strings.HasPrefix(r[0], r[1]+"/") {
			t.Errorf("row %v: the label is not the first folder", r)
		}
	}
	if !strings.Contains(stderr, "1 image directly under") {
		t.Errorf("from-folders does not count the image without a folder:\n%s", stderr)
	}

	// --labels folders trains on the same rows as the file; the model is
	// an ordinary 0644 output.
	trainRows := func(args ...string) (string, int) {
		_, stderr, code := run(t, append([]string{"train", "--features", feats, "-o", p("m.json")}, args...)...)
		return stderr, code
	}
	se1, c1 := trainRows("--labels", "folders")
	se2, c2 := trainRows("--labels", p("all.csv"))
	if c1 != 0 || c2 != 0 || !strings.Contains(se1, "24 rows") || !strings.Contains(se2, "24 rows") {
		t.Fatalf("folders vs file: exit %d, %d\n%s\n%s", c1, c2, se1, se2)
	}
	if st, err := os.Stat(p("m.json")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("model.json mode %v (%v), want 0644", st.Mode().Perm(), err)
	}

	// Two files: repeats count once, a conflict lists path and files.
	write := func(name string, rows ...string) string {
		if err := os.WriteFile(p(name), []byte("path,label\n"+strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p(name)
	}
	var a, b []string
	for _, c := range []string{"boot", "sandal", "sneaker"} {
		for _, q := range classes[c][:4] {
			a = append(a, q+","+c)
		}
		for _, q := range classes[c][3:6] { // one path per class in both files
			b = append(b, q+","+c)
		}
	}
	la, lb := write("a.csv", a...), write("b.csv", b...)
	se, code := trainRows("--labels", la, "--labels", lb)
	if code != 0 || !strings.Contains(se, "18 rows") {
		t.Fatalf("merging a.csv and b.csv: exit %d, want 18 rows (3 repeats counted once)\n%s", code, se)
	}
	moved := classes["boot"][3]
	lc := write("c.csv", moved+",sandal")
	se, code = trainRows("--labels", la, "--labels", lc)
	if code == 0 || !strings.Contains(se, moved) || !strings.Contains(se, "a.csv") || !strings.Contains(se, "c.csv") || !strings.Contains(se, "--on-conflict last") {
		t.Fatalf("a conflict between files: exit %d\n%s", code, se)
	}
	se, code = trainRows("--labels", la, "--labels", lc, "--on-conflict", "last")
	if code != 0 || !strings.Contains(se, "1 path relabelled") || !regexp.MustCompile(`(?m)^\s+sandal\s+5$`).MatchString(se) {
		t.Fatalf("--on-conflict last: exit %d, want the count and sandal 5\n%s", code, se)
	}

	// A case typo is reported with its counts; --fold-case merges it.
	typo := write("typo.csv", append(a[1:], strings.Split(a[0], ",")[0]+",Boot")...)
	se, code = trainRows("--labels", typo)
	if code == 0 || !strings.Contains(se, `"Boot" (1 row,`) || !strings.Contains(se, "--fold-case") {
		t.Fatalf("a case variant: exit %d\n%s", code, se)
	}
	se, code = trainRows("--labels", typo, "--fold-case")
	if code != 0 || !strings.Contains(se, "3 classes") || !strings.Contains(se, `"Boot" -> "boot"`) {
		t.Fatalf("--fold-case: exit %d\n%s", code, se)
	}

	// A class of one row: named with its count, by --cv, and by the
	// warning under 3 rows.
	one := write("one.csv", append(a[4:], a[0])...) // boot has a[0] only
	se, code = trainRows("--labels", one, "--cv", "3")
	if code == 0 || !strings.Contains(se, `class "boot" has 1 row`) {
		t.Fatalf("--cv with a one-row class: exit %d\n%s", code, se)
	}
	se, code = trainRows("--labels", one)
	if code != 0 || !strings.Contains(se, `warning: class "boot" has only 1 row;`) {
		t.Fatalf("no warning for a class under 3 rows: exit %d\n%s", code, se)
	}

	// Paths written from the parent folder: the stored and the given
	// paths side by side, and the prefix to strip.
	var prefixed []string
	for _, r := range a {
		prefixed = append(prefixed, "photos/"+r)
	}
	se, code = trainRows("--labels", write("prefixed.csv", prefixed...))
	if code == 0 || !strings.Contains(se, "in the features") || !strings.Contains(se, `start with "photos/"`) ||
		!regexp.MustCompile(`(?m)^\s+\S+\.png\s+photos/\S+\.png$`).MatchString(se) {
		t.Fatalf("a path prefix: exit %d\n%s", code, se)
	}

	// evaluate: rows the model trained on are flagged, others are not;
	// labels outside the model's classes name no flag evaluate lacks.
	if _, code := trainRows("--labels", la); code != 0 {
		t.Fatal("train on a.csv failed")
	}
	_, se, code = run(t, "evaluate", "--model", p("m.json"), "--features", feats, "--labels", la)
	if code != 0 || !strings.Contains(se, "12 of the 12 rows are rows") {
		t.Errorf("evaluate on the training rows: exit %d, no overlap warning\n%s", code, se)
	}
	var held []string
	for _, c := range []string{"boot", "sandal", "sneaker"} {
		for _, q := range classes[c][4:7] {
			held = append(held, q+","+c)
		}
	}
	held = append(held, classes["boot"][7]+",bag") // not a class of the model
	_, se, code = run(t, "evaluate", "--model", p("m.json"), "--features", feats, "--labels", write("held.csv", held...))
	if code != 0 || strings.Contains(se, "trained on") || strings.Contains(se, "--classes") || !strings.Contains(se, "outside the model's classes") {
		t.Errorf("evaluate on held-out rows: exit %d\n%s", code, se)
	}

	// select: --exclude folders leaves only the loose images; next.csv
	// ends with an empty label column.
	_, se, code = run(t, "select", "--model", p("m.json"), "--features", feats, "-n", "4", "--labels", la, "--labels", lb, "-o", p("next.csv"))
	if code != 0 {
		t.Fatalf("select: exit %d\n%s", code, se)
	}
	next := readCSVFile(t, p("next.csv"))
	li := col(t, next[0], "label")
	if li != len(next[0])-1 || len(next) != 5 {
		t.Fatalf("next.csv: header %v, %d rows", next[0], len(next)-1)
	}
	labelled := map[string]bool{}
	for _, r := range append(a, b...) {
		labelled[strings.Split(r, ",")[0]] = true
	}
	for _, r := range next[1:] {
		if r[li] != "" || labelled[r[0]] {
			t.Errorf("next.csv row %v: labelled already, or label not empty", r)
		}
	}
	_, se, code = run(t, "select", "--model", p("m.json"), "--features", feats, "-n", "4", "--exclude", "folders", "-o", p("next.csv"))
	if code == 0 || !strings.Contains(se, "nothing to select") {
		// broken.png failed, so every featurized image is in a folder.
		t.Errorf("select --exclude folders on a pool of class folders only: exit %d\n%s", code, se)
	}
	// simulate takes its oracle from the folders too.
	out, se, code := run(t, "simulate", "--features", feats, "--labels", "folders", "--out", p("sim"), "--repeats", "1", "--rounds", "1",
		"--batch", "2", "--initial-per-class", "2", "--strategies", "random")
	if code != 0 || !strings.Contains(out, "full model") {
		t.Errorf("simulate --labels folders: exit %d\n%s\n%s", code, out, se)
	} else if _, err := os.Stat(p("sim/summary.json")); err != nil {
		t.Error(err)
	}
	// An output may not be one of the label files.
	_, se, code = run(t, "train", "--features", feats, "--labels", la, "--labels", lb, "-o", lb)
	if code != 2 || !strings.Contains(se, "--labels") {
		t.Errorf("train -o onto its second --labels: exit %d\n%s", code, se)
	}
}

// runTo runs winnow with stderr (and stdout) going to f, as a shell's 2>
// would, and returns the exit code.
func runTo(t *testing.T, f *os.File, args ...string) int {
	t.Helper()
	cmd := exec.Command(winnow, args...)
	cmd.Stdout, cmd.Stderr = f, f
	err := cmd.Run()
	if err != nil {
		if ee, ok := err.(interface{ ExitCode() int }); ok {
			return ee.ExitCode()
		}
		t.Fatal(err)
	}
	return 0
}
