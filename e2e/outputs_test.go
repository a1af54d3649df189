package e2e

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every verb refuses, before doing any work, an output that names one of its
// inputs (or another output), and leaves every input byte-identical.
func TestOutputNamingAnInputIsRefused(t *testing.T) {
	w := t.TempDir()
	images := repo("testdata/images/fmnist")
	p := func(name string) string { return filepath.Join(w, name) }
	mustRun := func(args ...string) {
		t.Helper()
		runOK(t, args...)
	}
	// Inputs of every kind, made by winnow itself.
	mustRun("featurize", images, "-o", p("f.parquet"), "--model", "pixels:28x28:gray", "-q")
	mustRun("features", "export", p("f.parquet"), "-o", p("f.csv"))
	labels, err := os.ReadFile(filepath.Join(images, "labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p("lab.csv"), labels, 0o644)
	os.WriteFile(p("ex.csv"), []byte("path\nbag/00018.png\n"), 0o644)
	mustRun("train", "--features", p("f.parquet"), "--labels", p("lab.csv"), "-o", p("model.json"))
	os.Symlink(p("f.parquet"), p("link.parquet"))
	os.Link(p("lab.csv"), p("hardlink.csv"))
	os.WriteFile(p("list.txt"), []byte(filepath.Join(images, "bag/00018.png")+"\n"), 0o644)

	cases := []struct {
		name  string
		args  []string
		flags []string // both flags the message must name
	}{
		{"predict -o features", []string{"predict", "--model", p("model.json"), "--features", p("f.parquet"), "-o", p("f.parquet")}, []string{"-o", "--features"}},
		{"predict -o model", []string{"predict", "--model", p("model.json"), "--features", p("f.parquet"), "-o", p("model.json")}, []string{"-o", "--model"}},
		{"predict -o symlink to features", []string{"predict", "--model", p("model.json"), "--features", p("f.parquet"), "-o", p("link.parquet")}, []string{"-o", "--features"}},
		{"train -o labels", []string{"train", "--features", p("f.parquet"), "--labels", p("lab.csv"), "-o", p("lab.csv")}, []string{"-o", "--labels"}},
		{"train -o hard link to labels", []string{"train", "--features", p("f.parquet"), "--labels", p("lab.csv"), "-o", p("hardlink.csv")}, []string{"-o", "--labels"}},
		{"train -o features", []string{"train", "--features", p("f.parquet"), "--labels", p("lab.csv"), "-o", p("f.parquet")}, []string{"-o", "--features"}},
		{"train -o relative path of features", []string{"train", "--features", p("f.parquet"), "--labels", p("lab.csv"), "-o", relTo(t, p("f.parquet"))}, []string{"-o", "--features"}},
		{"evaluate --json labels", []string{"evaluate", "--model", p("model.json"), "--features", p("f.parquet"), "--labels", p("lab.csv"), "--json", p("lab.csv")}, []string{"--json", "--labels"}},
		{"evaluate --html model", []string{"evaluate", "--model", p("model.json"), "--features", p("f.parquet"), "--labels", p("lab.csv"), "--html", p("model.json")}, []string{"--html", "--model"}},
		{"evaluate --json and --html one file", []string{"evaluate", "--model", p("model.json"), "--features", p("f.parquet"), "--labels", p("lab.csv"), "--json", p("r.out"), "--html", p("r.out")}, []string{"--json", "--html"}},
		{"select -o features", []string{"select", "--model", p("model.json"), "--features", p("f.parquet"), "-o", p("f.parquet")}, []string{"-o", "--features"}},
		{"select -o exclude", []string{"select", "--model", p("model.json"), "--features", p("f.parquet"), "--exclude", p("ex.csv"), "-o", p("ex.csv")}, []string{"-o", "--exclude"}},
		{"features export -o itself", []string{"features", "export", p("f.parquet"), "-o", p("f.parquet")}, []string{"-o", "FEATURES"}},
		{"featurize --errors features", []string{"featurize", images, "-o", p("f.parquet"), "--errors", p("f.parquet"), "--model", "pixels:28x28:gray", "-q"}, []string{"-o", "--errors"}},
		{"featurize -o its manifest", []string{"featurize", p("list.txt"), "-o", p("list.txt"), "--model", "pixels:28x28:gray", "-q"}, []string{"-o", "SOURCE"}},
		{"featurize -o an image", []string{"featurize", p("list.txt"), "-o", filepath.Join(images, "bag/00018.png"), "--model", "pixels:28x28:gray", "-q"}, []string{"-o", "SOURCE"}},
		{"simulate --out over labels", []string{"simulate", "--features", p("f.parquet"), "--labels", p("rounds.csv"), "--out", w}, []string{"--out", "--labels"}},
	}
	os.WriteFile(p("rounds.csv"), labels, 0o644)

	// Every file the cases could touch, and the images.
	before := snapshotFiles(w, images)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := run(t, c.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2\n%s", code, stderr)
			}
			for _, f := range c.flags {
				if !strings.Contains(stderr, f+" ") {
					t.Errorf("message does not name %s: %s", f, stderr)
				}
			}
			if !strings.Contains(stderr, "refusing to overwrite") {
				t.Errorf("message does not say what it refused: %s", stderr)
			}
			assertUnchanged(t, before, w, images)
		})
	}
}

// A failed evaluate leaves the previous report byte-identical.
func TestFailedRunKeepsPreviousOutput(t *testing.T) {
	w := t.TempDir()
	images := repo("testdata/images/fmnist")
	feats, model, html := filepath.Join(w, "f.parquet"), filepath.Join(w, "m.json"), filepath.Join(w, "r.html")
	labels := filepath.Join(images, "labels.csv")
	for _, args := range [][]string{
		{"featurize", images, "-o", feats, "--model", "pixels:28x28:gray", "-q"},
		{"train", "--features", feats, "--labels", labels, "-o", model},
		{"evaluate", "--model", model, "--features", feats, "--labels", labels, "--html", html},
	} {
		if _, stderr, code := run(t, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
	}
	good, _ := os.ReadFile(html)
	bad := filepath.Join(w, "bad.csv")
	os.WriteFile(bad, []byte("path,label\nno/such.png,bag\n"), 0o644)
	if _, _, code := run(t, "evaluate", "--model", model, "--features", feats, "--labels", bad, "--html", html); code == 0 {
		t.Fatal("evaluate with unknown paths succeeded")
	}
	if now, _ := os.ReadFile(html); !bytes.Equal(now, good) {
		t.Fatal("the previous report changed after a failed run")
	}
	entries, _ := os.ReadDir(w)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func relTo(t *testing.T, path string) string {
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, path)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// snapshotFiles hashes every regular file under roots.
func snapshotFiles(roots ...string) map[string][32]byte {
	got := map[string][32]byte{}
	for _, root := range roots {
		filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
			if err == nil && info.Mode().IsRegular() {
				data, _ := os.ReadFile(path)
				got[path] = sha256.Sum256(data)
			}
			return nil
		})
	}
	return got
}

// assertUnchanged fails t if a file under roots changed, vanished or
// appeared since before was taken.
func assertUnchanged(t *testing.T, before map[string][32]byte, roots ...string) {
	t.Helper()
	after := snapshotFiles(roots...)
	for path, sum := range before {
		if got, ok := after[path]; !ok {
			t.Errorf("%s vanished", path)
		} else if got != sum {
			t.Errorf("%s changed", path)
		}
	}
	for path := range after {
		if _, ok := before[path]; !ok {
			t.Errorf("%s appeared", path)
		}
	}
}
