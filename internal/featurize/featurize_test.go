package featurize

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/imageio"
	"github.com/winnowml/winnow/internal/imageset"
	"github.com/winnowml/winnow/internal/progress"
)

func repo(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", rel)
}

func tinyModel(t testing.TB) *backbone.Model { return openTiny(t, backbone.Options{Threads: 1}) }

// openTiny opens the tiny test model with opt, closed when the test ends.
func openTiny(t testing.TB, opt backbone.Options) *backbone.Model {
	t.Helper()
	if err := backbone.Init(""); err != nil {
		t.Fatal(err)
	}
	path := repo("testdata/models/tiny.onnx")
	spec, _, err := backbone.LoadSidecar(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := backbone.Open(path, spec, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// copyTree copies the files under src (relative names) into dst.
func copyTree(t testing.TB, src, dst string, names ...string) {
	t.Helper()
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readAll(t testing.TB, path string) (map[string]featstore.Row, featstore.Meta) {
	t.Helper()
	r, err := featstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows := map[string]featstore.Row{}
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := rows[row.Path]; dup {
			t.Fatalf("%s: path %s appears twice", path, row.Path)
		}
		row.Features = append([]float32(nil), row.Features...)
		rows[row.Path] = row
	}
	return rows, r.Meta()
}

func run(t testing.TB, m *backbone.Model, src, out string, errs io.Writer) Summary {
	t.Helper()
	items, err := imageset.List(src)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), items, out, Config{Model: m, Batch: 8, Workers: 2, MaxPixels: 100e6,
		Errors: errs, Progress: progress.Quiet, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

type errRecord struct{ Path, Error, Kind string }

func parseErrors(t testing.TB, b []byte) map[string]errRecord {
	out := map[string]errRecord{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r errRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("errors file line %q: %v", sc.Text(), err)
		}
		out[r.Path] = r
	}
	return out
}

func TestFeaturizeRealImagesAndHostileFiles(t *testing.T) {
	m := tinyModel(t)
	src := t.TempDir()
	good := []string{"photos/china.jpg", "photos/flower.jpg", "photos/grace_hopper.jpg", "formats/cmyk.jpg",
		"formats/gray16.png", "formats/alpha.png", "formats/palette.gif", "formats/image.webp", "formats/image.tif",
		"formats/image.bmp", "formats/UPPER.JPEG", "orient/orient-6.jpg", "fmnist/coat/00006.png"}
	bad := map[string]string{"hostile/empty.jpg": "empty", "hostile/truncated.jpg": "truncated", "hostile/truncated.png": "truncated",
		"hostile/notimage.jpg": "not-image", "hostile/bomb.png": "too-large", "hostile/unsupported.jpg": "unsupported",
		"hostile/random.png": "not-image", "hostile/bad-header.gif": "corrupt"}
	copyTree(t, repo("testdata/images"), src, good...)
	for n := range bad {
		copyTree(t, repo("testdata/images"), src, n)
	}
	// Identical content under another name is computed once, both get rows.
	copyTree(t, repo("testdata/images"), filepath.Join(src, "again"), "photos/china.jpg")
	// A dangling symlink is an unreadable file.
	if err := os.Symlink(filepath.Join(src, "nowhere.jpg"), filepath.Join(src, "dangling.jpg")); err != nil {
		t.Fatal(err)
	}
	bad["dangling.jpg"] = "unreadable"
	// A FIFO would block open(2) for ever and a device could stream for
	// ever: neither is opened for reading.
	if err := syscall.Mkfifo(filepath.Join(src, "fifo.png"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad["fifo.png"] = "not-regular-file"
	if err := os.Symlink("/dev/zero", filepath.Join(src, "zero.jpg")); err != nil {
		t.Fatal(err)
	}
	bad["zero.jpg"] = "not-regular-file"

	out := filepath.Join(t.TempDir(), "f.parquet")
	var errs bytes.Buffer
	sum := run(t, m, src, out, &errs)

	if sum.OK != len(good) || sum.Duplicates != 1 || sum.Failed != len(bad) || sum.Resumed != 0 {
		t.Fatalf("summary %+v; want ok %d, duplicates 1, failed %d", sum, len(good), len(bad))
	}
	// Start-up (the warm-up call) is part of the run's time, and the rate
	// counts only the time after it.
	if sum.StartSeconds <= 0 || sum.StartSeconds >= sum.Seconds {
		t.Errorf("start-up %.3f s of a %.3f s run", sum.StartSeconds, sum.Seconds)
	}
	if want := float64(sum.OK) / (sum.Seconds - sum.StartSeconds); sum.Rate() != want || !strings.Contains(sum.String(), fmt.Sprintf("%.1f images/s after start-up", want)) {
		t.Errorf("rate %.2f, want %.2f: %s", sum.Rate(), want, sum)
	}
	rows, meta := readAll(t, out)
	if len(rows) != len(good)+1 {
		t.Fatalf("%d rows, want %d", len(rows), len(good)+1)
	}
	if meta.Dim != 32 || meta.Backbone != "tiny" || meta.BackboneSHA256 != m.SHA256 || !strings.Contains(meta.Preprocess, "resize=pad") {
		t.Fatalf("metadata %+v", meta)
	}
	a, b := rows["photos/china.jpg"], rows["again/photos/china.jpg"]
	if a.SHA256 != b.SHA256 || len(a.Features) != 32 {
		t.Fatalf("duplicate rows differ: %v vs %v", a.SHA256, b.SHA256)
	}
	for i := range a.Features {
		if a.Features[i] != b.Features[i] {
			t.Fatalf("duplicate features differ at %d", i)
		}
	}
	if r := rows["orient/orient-6.jpg"]; r.Width != 120 || r.Height != 160 {
		t.Errorf("orient-6 recorded as %dx%d, want the displayed 120x160", r.Width, r.Height)
	}
	if r := rows["photos/china.jpg"]; r.Width != 640 || r.Height != 427 {
		t.Errorf("china.jpg recorded as %dx%d", r.Width, r.Height)
	}
	got := parseErrors(t, errs.Bytes())
	for p, kind := range bad {
		rec, ok := got[p]
		if !ok {
			t.Errorf("%s not reported", p)
			continue
		}
		if kind != "" && rec.Kind != kind {
			t.Errorf("%s: kind %q (%s), want %q", p, rec.Kind, rec.Error, kind)
		}
		if _, has := rows[p]; has {
			t.Errorf("%s has a row", p)
		}
	}
	if len(got) != len(bad) {
		t.Errorf("%d error records, want %d: %v", len(got), len(bad), got)
	}
	if _, err := os.Stat(featstore.PartsDir(out)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("parts folder left behind: %v", err)
	}
}

// Features must not depend on batching or on how many workers decoded.
func TestBatchingDoesNotChangeFeatures(t *testing.T) {
	m := tinyModel(t)
	src := repo("testdata/images/fmnist")
	items, _ := imageset.List(src)
	var outs []map[string]featstore.Row
	for _, c := range []struct{ batch, workers int }{{1, 1}, {7, 3}, {32, 2}} {
		out := filepath.Join(t.TempDir(), "f.parquet")
		if _, err := Run(context.Background(), items, out, Config{Model: m, Batch: c.batch, Workers: c.workers, Progress: progress.Quiet}); err != nil {
			t.Fatal(err)
		}
		rows, _ := readAll(t, out)
		outs = append(outs, rows)
	}
	for p, r := range outs[0] {
		for k := 1; k < len(outs); k++ {
			o := outs[k][p]
			for i := range r.Features {
				if d := r.Features[i] - o.Features[i]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("%s feature %d: %g vs %g (config %d)", p, i, r.Features[i], o.Features[i], k)
				}
			}
		}
	}
	if len(outs[0]) != 100 {
		t.Fatalf("%d rows, want 100", len(outs[0]))
	}
}

// Several inference calls at once (Layout) give the same rows as one: on
// one shared single-threaded session (3 threads: 3 lanes) and on a session
// per lane (8 threads: 4 lanes of 2), with a batch size that leaves a
// partial last batch.
func TestLanesGiveTheSameRows(t *testing.T) {
	items, _ := imageset.List(repo("testdata/images/fmnist"))
	var outs []map[string]featstore.Row
	for _, threads := range []int{0, 3, 8} {
		lanes, per := Layout(threads)
		opt := ModelOptions(threads)
		if threads > 0 && (lanes*per > threads || opt.Threads != per) {
			t.Fatalf("Layout(%d) = %d lanes x %d, options %+v", threads, lanes, per, opt)
		}
		m := openTiny(t, opt)
		out := filepath.Join(t.TempDir(), "f.parquet")
		sum, err := Run(context.Background(), items, out, Config{Model: m, Batch: 7, Workers: 3, Threads: threads, Progress: progress.Quiet})
		if err != nil {
			t.Fatal(err)
		}
		if sum.OK != len(items) {
			t.Fatalf("threads %d: %d of %d images featurized", threads, sum.OK, len(items))
		}
		rows, _ := readAll(t, out)
		outs = append(outs, rows)
	}
	for p, r := range outs[0] {
		for k := 1; k < len(outs); k++ {
			o, ok := outs[k][p]
			if !ok {
				t.Fatalf("%s missing with config %d", p, k)
			}
			for i := range r.Features {
				if d := r.Features[i] - o.Features[i]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("%s feature %d: %g vs %g (config %d)", p, i, r.Features[i], o.Features[i], k)
				}
			}
		}
	}
	if len(outs[0]) != len(items) || len(outs[2]) != len(items) {
		t.Fatalf("%d and %d rows, want %d", len(outs[0]), len(outs[2]), len(items))
	}
}

func TestLayout(t *testing.T) {
	for _, c := range []struct{ threads, lanes, per int }{{0, 1, 0}, {1, 1, 1}, {2, 2, 1}, {4, 4, 1}, {6, 4, 1}, {8, 4, 2}, {17, 4, 4}} {
		if l, p := Layout(c.threads); l != c.lanes || p != c.per {
			t.Errorf("Layout(%d) = %d, %d; want %d, %d", c.threads, l, p, c.lanes, c.per)
		}
	}
}

func TestResumeSkipsDoneAndRedoesChanged(t *testing.T) {
	m := tinyModel(t)
	src := t.TempDir()
	names := []string{"fmnist/bag/00018.png", "fmnist/coat/00006.png", "fmnist/dress/00013.png"}
	copyTree(t, repo("testdata/images"), src, names[:2]...)
	out := filepath.Join(t.TempDir(), "f.parquet")
	if s := run(t, m, src, out, nil); s.OK != 2 {
		t.Fatalf("first run %+v", s)
	}
	first, _ := readAll(t, out)

	copyTree(t, repo("testdata/images"), src, names[2])
	// Replace a done file's content: it must be featurized again.
	data, _ := os.ReadFile(repo("testdata/images/fmnist/sandal/00008.png"))
	os.WriteFile(filepath.Join(src, names[0]), data, 0o644)

	s := run(t, m, src, out, nil)
	if s.OK != 2 || s.Resumed != 1 {
		t.Fatalf("second run %+v; want 2 new (added + changed), 1 resumed", s)
	}
	second, _ := readAll(t, out)
	if len(second) != 3 {
		t.Fatalf("%d rows after resume", len(second))
	}
	if second[names[0]].SHA256 == first[names[0]].SHA256 {
		t.Errorf("changed file kept its old row")
	}
	if s := run(t, m, src, out, nil); s.OK != 0 || s.Resumed != 3 {
		t.Fatalf("third run %+v; want everything resumed", s)
	}
}

func TestResumeRefusesAnotherPreprocessing(t *testing.T) {
	m := tinyModel(t)
	out := filepath.Join(t.TempDir(), "f.parquet")
	run(t, m, repo("testdata/images/orient"), out, nil)
	items, _ := imageset.List(repo("testdata/images/orient"))
	_, err := Run(context.Background(), items, out, Config{Model: m, Resize: imageio.Crop, Progress: progress.Quiet})
	if err == nil || !strings.Contains(err.Error(), "preprocess") {
		t.Fatalf("mixing resize modes: got %v", err)
	}
}

// Chunks left by an interrupted run are picked up, not redone.
func TestResumeFromChunks(t *testing.T) {
	m := tinyModel(t)
	items, _ := imageset.List(repo("testdata/images/fmnist"))
	out := filepath.Join(t.TempDir(), "f.parquet")
	ctx, cancel := context.WithCancel(context.Background())
	cfg := Config{Model: m, Batch: 4, Workers: 1, ChunkRows: 8, Progress: progress.Quiet}
	var seen int
	cfg.Errors = io.Discard
	// Cancel once some chunks exist.
	go func() {
		for {
			files, _ := filepath.Glob(filepath.Join(featstore.PartsDir(out), "chunk-*.parquet"))
			if len(files) >= 2 {
				cancel()
				return
			}
			if ctx.Err() != nil {
				return
			}
		}
	}()
	sum, err := Run(ctx, items, out, cfg)
	if err == nil && sum.OK == len(items) {
		t.Skip("finished before it could be interrupted")
	}
	chunks, _ := filepath.Glob(filepath.Join(featstore.PartsDir(out), "chunk-*.parquet"))
	for _, c := range chunks {
		rows, _ := readAll(t, c)
		seen += len(rows)
	}
	if seen == 0 {
		t.Fatal("interrupted run left no chunk")
	}
	sum2, err := Run(context.Background(), items, out, Config{Model: m, Progress: progress.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	if sum2.Resumed != seen || sum2.OK != len(items)-seen {
		t.Fatalf("resume %+v; want %d resumed from chunks", sum2, seen)
	}
	rows, _ := readAll(t, out)
	var paths []string
	for p := range rows {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	if len(paths) != len(items) {
		t.Fatalf("%d rows, want %d", len(paths), len(items))
	}
}
