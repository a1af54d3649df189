package e2e

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/fmnist"
)

var tiny = repo("testdata/models/tiny.onnx")

// fmnistFolder writes the first n Fashion-MNIST test images as PNG files.
func fmnistFolder(t *testing.T, n int) string {
	t.Helper()
	if !fmnist.Available(fmnist.Dir) {
		t.Skip("dataset-fashion-mnist is not installed (make deps installs it)")
	}
	s, err := fmnist.Load(fmnist.Dir, "t10k", n)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i := range s.Images {
		if err := s.WritePNG(i, filepath.Join(dir, fmnist.Classes[s.Labels[i]], fmt.Sprintf("%05d.png", i))); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func rowsOf(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	r, err := featstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[string][]float32{}
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := out[row.Path]; dup {
			t.Fatalf("path %s appears twice in %s", row.Path, path)
		}
		out[row.Path] = append([]float32(nil), row.Features...)
	}
}

// A run killed with SIGKILL at random moments, then run again until it
// finishes, must end with every image exactly once and the same features as
// an uninterrupted run.
func TestKillAndResume(t *testing.T) {
	const n = 1500
	src := fmnistFolder(t, n)
	work := t.TempDir()
	ref := filepath.Join(work, "ref.parquet")
	if _, stderr, code := run(t, "featurize", src, "-o", ref, "--model", tiny, "-q"); code != 0 {
		t.Fatalf("reference run: exit %d\n%s", code, stderr)
	}
	want := rowsOf(t, ref)
	if len(want) != n {
		t.Fatalf("reference has %d rows, want %d", len(want), n)
	}

	out := filepath.Join(work, "killed.parquet")
	chunks := func() int {
		files, _ := filepath.Glob(filepath.Join(out+".parts", "chunk-*.parquet"))
		return len(files)
	}
	rng := rand.New(rand.NewSource(1))
	kills, finished := 0, false
	for attempt := 0; attempt < 30 && !finished; attempt++ {
		cmd := exec.Command(winnow, "featurize", src, "-o", out, "--model", tiny, "-q",
			"--checkpoint-rows", "50", "--batch", "8", "--threads", "1", "--workers", "1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Kill at a random moment after the run has made some durable
		// progress, so the test neither depends on the machine's speed nor
		// loops forever on a slow one; the last attempts run to the end.
		before := chunks()
		deadline := time.After(time.Minute)
	wait:
		for attempt < 10 {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("run %d failed: %v", attempt, err)
				}
				finished = true
				break wait
			case <-deadline:
				t.Fatal("no progress within a minute")
			case <-time.After(5 * time.Millisecond):
				if chunks() > before {
					time.Sleep(time.Duration(rng.Intn(40)) * time.Millisecond)
					cmd.Process.Signal(syscall.SIGKILL)
					<-done
					kills++
					break wait
				}
			}
		}
		if attempt >= 10 {
			if err := <-done; err != nil {
				t.Fatalf("final run failed: %v", err)
			}
			finished = true
		}
	}
	if kills == 0 {
		t.Fatal("the run was never killed")
	}
	got := rowsOf(t, out)
	if len(got) != n {
		t.Fatalf("after %d kills: %d rows, want %d", kills, len(got), n)
	}
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Fatalf("%s missing after resume", p)
		}
		for i := range w {
			if g[i] != w[i] {
				t.Fatalf("%s feature %d: %g after resume, %g uninterrupted", p, i, g[i], w[i])
			}
		}
	}
	if _, err := os.Stat(out + ".parts"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("parts folder left after the final run")
	}
	t.Logf("%d kills", kills)
}

func TestFeaturizeCLI(t *testing.T) {
	work := t.TempDir()
	out := filepath.Join(work, "f.parquet")
	errs := filepath.Join(work, "errors.jsonl")
	_, stderr, code := run(t, "featurize", repo("testdata/images"), "-o", out, "--model", tiny, "--errors", errs)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "ok ") || !strings.Contains(stderr, "images/s") {
		t.Errorf("no summary in:\n%s", stderr)
	}
	data, _ := os.ReadFile(errs)
	for _, name := range []string{"hostile/empty.jpg", "hostile/bomb.png", "hostile/truncated.jpg", "hostile/notimage.jpg"} {
		if !strings.Contains(string(data), `"path":"`+name+`"`) {
			t.Errorf("%s not in the errors file", name)
		}
	}
	// --strict turns skipped files into a failure; the output is still written.
	if _, _, code := run(t, "featurize", repo("testdata/images/hostile"), "-o", filepath.Join(work, "h.parquet"), "--model", tiny, "-q"); code != 1 {
		t.Errorf("nothing succeeded: exit %d, want 1", code)
	}
	if _, _, code := run(t, "featurize", repo("testdata/images"), "-o", out, "--model", tiny, "-q", "--strict", "--errors", errs); code != 1 {
		t.Errorf("--strict with bad files: exit %d, want 1", code)
	}

	// CSV export: header path,f0..f31 and one line per row.
	csvPath := filepath.Join(work, "f.csv")
	if _, stderr, code := run(t, "features", "export", out, "-o", csvPath); code != 0 {
		t.Fatalf("export: %d %s", code, stderr)
	}
	f, _ := os.Open(csvPath)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if recs[0][0] != "path" || recs[0][1] != "f0" || recs[0][32] != "f31" || len(recs[0]) != 33 {
		t.Errorf("header %v", recs[0][:3])
	}
	if len(recs)-1 != len(rowsOf(t, out)) {
		t.Errorf("%d CSV rows for %d Parquet rows", len(recs)-1, len(rowsOf(t, out)))
	}
}

func TestFeaturizeErrorsAreClear(t *testing.T) {
	work := t.TempDir()
	noSidecar := filepath.Join(work, "m.onnx")
	data, _ := os.ReadFile(tiny)
	os.WriteFile(noSidecar, data, 0o644)
	_, stderr, code := run(t, "featurize", repo("testdata/images/orient"), "-o", filepath.Join(work, "o.parquet"), "--model", noSidecar)
	if code == 0 || !strings.Contains(stderr, "--layout") || !strings.Contains(stderr, "sidecar") {
		t.Errorf("missing sidecar: exit %d\n%s", code, stderr)
	}
	// The same fields as flags work.
	_, stderr, code = run(t, "featurize", repo("testdata/images/orient"), "-o", filepath.Join(work, "o.parquet"), "--model", noSidecar,
		"--layout", "NCHW", "--size", "64x64", "--channels", "RGB", "--scale", "255", "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25",
		"--output-name", "features", "-q")
	if code != 0 {
		t.Errorf("spec from flags: exit %d\n%s", code, stderr)
	}
	_, stderr, code = run(t, "featurize", repo("testdata/images/orient"), "-o", filepath.Join(work, "x.parquet"), "--model", tiny,
		"--ort-lib", "/nonexistent/libonnxruntime.so.1")
	if code == 0 || !strings.Contains(stderr, "/nonexistent/libonnxruntime.so.1") {
		t.Errorf("bad --ort-lib: exit %d\n%s", code, stderr)
	}
}
