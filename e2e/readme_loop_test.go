package e2e

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/fmnist"
)

// readmeLoop returns the commands of the README's "The loop on your own
// photos" block: continuation lines joined, comments dropped, split into
// words (the block uses no quotes).
func readmeLoop(t *testing.T) [][]string {
	t.Helper()
	data, err := os.ReadFile(repo("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "## The loop on your own photos")
	if i < 0 {
		t.Fatal(`README has no "The loop on your own photos" section`)
	}
	s = s[i:]
	start := strings.Index(s, "```sh\n")
	end := strings.Index(s[start+6:], "```")
	if start < 0 || end < 0 {
		t.Fatal("no sh code block in the loop section")
	}
	block := strings.ReplaceAll(s[start+6:start+6+end], "\\\n", " ")
	var cmds [][]string
	for _, line := range strings.Split(block, "\n") {
		if k := strings.Index(line, "#"); k >= 0 {
			line = line[:k]
		}
		if strings.ContainsAny(line, `'"$|;&<>`) {
			t.Fatalf("the loop's line %q needs a shell; this test runs words", line)
		}
		if f := strings.Fields(line); len(f) > 0 {
			cmds = append(cmds, f)
		}
	}
	return cmds
}

// The loop as the README writes it, on shoes in three class folders and
// three real photos: every bin/winnow line runs with this test's binary,
// starting with nothing labelled; every select output (the random first
// batches too) is filled in from the true classes (empty for the photos)
// where a newcomer would, no image is picked twice and no test image is
// trained on, while the labels accumulate.
func TestReadmeLoop(t *testing.T) {
	if !fmnist.Available(fmnist.Dir) {
		t.Skip("dataset-fashion-mnist is not installed (make deps installs it)")
	}
	bbDir := repo(".deps/backbones")
	if _, err := os.Stat(filepath.Join(bbDir, "mobilenet-v2.onnx")); err != nil {
		t.Skip("the built-in backbones are not installed (make deps)")
	}
	cmds := readmeLoop(t)
	work := t.TempDir()

	// photos/{boot,sandal,sneaker}: 30 Fashion-MNIST images each, plus
	// three photos that are no shoe at all, directly under photos/.
	folders := map[int]string{5: "sandal", 7: "sneaker", 9: "boot"}
	set, err := fmnist.Load(fmnist.Dir, "t10k", 600)
	if err != nil {
		t.Fatal(err)
	}
	truth := map[string]string{}
	var byClass = map[string][]string{}
	for i := range set.Images {
		name, ok := folders[int(set.Labels[i])]
		if !ok || len(byClass[name]) == 30 {
			continue
		}
		p := fmt.Sprintf("%s/%05d.png", name, i)
		if err := set.WritePNG(i, filepath.Join(work, "photos", p)); err != nil {
			t.Fatal(err)
		}
		truth[p] = name
		byClass[name] = append(byClass[name], p)
	}
	for _, ph := range []string{"china.jpg", "flower.jpg", "grace_hopper.jpg"} {
		data, err := os.ReadFile(repo("testdata/images/photos/" + ph))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, "photos", ph), data, 0o644); err != nil {
			t.Fatal(err)
		}
		truth[ph] = "" // fits no class: left empty, as the README says
	}
	// The loop starts with nothing labelled: its first selects make
	// labels.csv and test.csv, filled in below as every select output is.
	// Paths already picked into a file are labelled (for testing if the
	// file is test.csv) and must never be picked again.
	train, test := map[string]bool{}, map[string]bool{}

	env := append(os.Environ(), backbone.EnvBackbones+"="+bbDir)
	if _, err := os.Stat(repo(".deps/onnxruntime/" + backbone.LibName)); err == nil {
		env = append(env, backbone.EnvLib+"="+repo(".deps/onnxruntime/"+backbone.LibName))
	}
	var models []*classifier.File
	trained := 0
	for _, c := range cmds {
		if c[0] != "bin/winnow" {
			if c[0] != "make" {
				t.Fatalf("the loop runs %q, which this test does not know", strings.Join(c, " "))
			}
			continue // the test's binary is built already
		}
		cmd := exec.Command(winnow, c[1:]...)
		cmd.Dir = work
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, stderr.String())
		}
		t.Logf("%s\n%s", strings.Join(c, " "), stderr.String())
		switch c[1] {
		case "select":
			out := flagValue(t, c, "-o")
			recs := readCSVFile(t, filepath.Join(work, out))
			li := col(t, recs[0], "label")
			if len(recs) < 2 {
				t.Fatalf("%s picked nothing", out)
			}
			for _, r := range recs[1:] {
				if test[r[0]] || train[r[0]] {
					t.Errorf("select picked %s, which is labelled for %s", r[0], map[bool]string{true: "testing", false: "training"}[test[r[0]]])
				}
				if out == "test.csv" {
					test[r[0]] = true
				} else {
					train[r[0]] = true
				}
				if r[li] != "" {
					t.Errorf("%s: label column %q, want empty, ready to fill in", r[0], r[li])
				}
				want, ok := truth[r[0]]
				if !ok {
					t.Fatalf("select picked %s, no image of photos/", r[0])
				}
				r[li] = want
			}
			writeTable(t, filepath.Join(work, out), recs[0], recs[1:])
		case "train":
			m, err := classifier.Load(filepath.Join(work, flagValue(t, c, "-o")))
			if err != nil {
				t.Fatal(err)
			}
			in, err := m.Training.Paths.Matcher()
			if err != nil {
				t.Fatal(err)
			}
			for p := range test {
				if in(p) {
					t.Errorf("train used test image %s", p)
				}
			}
			// Every labelled row of every --labels file trains.
			want := 0
			for _, name := range flagValues(c, "--labels") {
				recs := readCSVFile(t, filepath.Join(work, name))
				li := col(t, recs[0], "label")
				for _, r := range recs[1:] {
					if r[li] != "" {
						want++
					}
				}
			}
			if m.Training.Rows != want {
				t.Errorf("%s: trained on %d rows, want %d (the labelled rows of its --labels files)", strings.Join(c, " "), m.Training.Rows, want)
			}
			trained++
			models = append(models, m)
		case "evaluate":
			if strings.Contains(stderr.String(), "was trained on") {
				t.Errorf("evaluate warns that the test rows were trained on:\n%s", stderr.String())
			}
		}
	}
	if trained < 2 {
		t.Fatalf("the loop trains %d times; it must train again after select", trained)
	}
	if len(test) == 0 {
		t.Error("the loop makes no test.csv")
	}
	first, last := models[0].Training.Rows, models[len(models)-1].Training.Rows
	if last <= first {
		t.Errorf("labels did not accumulate: first model %d rows, last %d", first, last)
	}
	if _, err := os.Stat(filepath.Join(work, "predictions.csv")); err != nil {
		t.Errorf("the loop's predict wrote nothing: %v", err)
	}
}

func flagValue(t *testing.T, args []string, flag string) string {
	t.Helper()
	v := flagValues(args, flag)
	if len(v) == 0 {
		t.Fatalf("%s has no %s", strings.Join(args, " "), flag)
	}
	return v[len(v)-1]
}

func flagValues(args []string, flag string) []string {
	var out []string
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			out = append(out, args[i+1])
		}
	}
	return out
}

func col(t *testing.T, head []string, name string) int {
	t.Helper()
	for i, h := range head {
		if h == name {
			return i
		}
	}
	t.Fatalf("no column %q in %v", name, head)
	return -1
}

func writeTable(t *testing.T, path string, head []string, rows [][]string) {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(head)
	w.WriteAll(rows)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readCSVFile(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}
