package backbone

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func repoFile(t testing.TB, rel string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", rel)
}

func initRuntime(t testing.TB) {
	t.Helper()
	if err := Init(""); err != nil {
		t.Fatalf("ONNX Runtime: %v", err)
	}
}

func openTiny(t testing.TB, name string, mutate func(*Spec)) (*Model, error) {
	t.Helper()
	initRuntime(t)
	path := repoFile(t, "testdata/models/"+name)
	spec, ok, err := LoadSidecar(path)
	if err != nil || !ok {
		t.Fatalf("sidecar of %s: ok=%v err=%v", name, ok, err)
	}
	if mutate != nil {
		mutate(&spec)
	}
	return Open(path, spec, Options{Threads: 1})
}

// referenceInput is the input make-tiny.py used for tiny-ref.json.
func referenceInput() []float32 {
	x := make([]float32, 2*3*64*64)
	for i := range x {
		x[i] = float32(float64(i*7919%1000)/1000 - 0.5)
	}
	return x
}

func TestRunMatchesNumpyReference(t *testing.T) {
	m, err := openTiny(t, "tiny.onnx", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var ref struct{ Features [][]float64 }
	data, err := os.ReadFile(repoFile(t, "testdata/models/tiny-ref.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	got, err := m.Run(nil, referenceInput(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if m.Dim() != 32 || len(got) != 64 {
		t.Fatalf("dim %d, %d values; want 32 and 64", m.Dim(), len(got))
	}
	for i := 0; i < 2; i++ {
		for j := 0; j < 32; j++ {
			want := ref.Features[i][j]
			if d := math.Abs(float64(got[i*32+j]) - want); d > 1e-4*math.Max(1, math.Abs(want)) {
				t.Fatalf("feature [%d][%d] = %g, numpy says %g", i, j, got[i*32+j], want)
			}
		}
	}
}

// The NHWC model has the same weights behind a Transpose, so an NHWC packing
// of the same pixels must give the same features.
func TestLayoutsAgree(t *testing.T) {
	nchw, err := openTiny(t, "tiny.onnx", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nchw.Close()
	nhwc, err := openTiny(t, "tiny-nhwc.onnx", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nhwc.Close()
	x := referenceInput()
	y := make([]float32, len(x))
	const c, hw = 3, 64 * 64
	for n := 0; n < 2; n++ {
		for ch := 0; ch < c; ch++ {
			for p := 0; p < hw; p++ {
				y[n*c*hw+p*c+ch] = x[n*c*hw+ch*hw+p]
			}
		}
	}
	a, err := nchw.Run(nil, x, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := nhwc.Run(nil, y, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			t.Fatalf("feature %d: NCHW %g, NHWC %g", i, a[i], b[i])
		}
	}
}

func TestOutputSelection(t *testing.T) {
	if _, err := openTiny(t, "tiny.onnx", func(s *Spec) { s.Output = "" }); err == nil ||
		!strings.Contains(err.Error(), "features") || !strings.Contains(err.Error(), "logits") {
		t.Fatalf("two outputs and none named: want an error listing both, got %v", err)
	}
	if _, err := openTiny(t, "tiny.onnx", func(s *Spec) { s.Output = "nope" }); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown output: got %v", err)
	}
	m, err := openTiny(t, "tiny.onnx", func(s *Spec) { s.Output = "logits" })
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Dim() != 4 {
		t.Fatalf("logits dim = %d, want 4", m.Dim())
	}
	// The single-output model needs no output name.
	m2, err := openTiny(t, "tiny-nhwc.onnx", func(s *Spec) { s.Output = "" })
	if err != nil {
		t.Fatal(err)
	}
	m2.Close()
}

func TestSpecMismatchWithGraph(t *testing.T) {
	_, err := openTiny(t, "tiny.onnx", func(s *Spec) { s.Input.Size = []int{224, 224} })
	if err == nil || !strings.Contains(err.Error(), "224") {
		t.Fatalf("wrong size: got %v", err)
	}
	_, err = openTiny(t, "tiny.onnx", func(s *Spec) { s.Input.Layout = "NHWC" })
	if err == nil || !strings.Contains(err.Error(), "NHWC") {
		t.Fatalf("wrong layout: got %v", err)
	}
	_, err = openTiny(t, "tiny.onnx", func(s *Spec) { s.Input.Name = "pixels" })
	if err == nil || !strings.Contains(err.Error(), "image") {
		t.Fatalf("wrong input name: want the real name in the error, got %v", err)
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	err := Spec{Input: InputSpec{Channels: "RGB", Mean: []float32{0}}}.Validate()
	if err == nil {
		t.Fatal("empty spec validated")
	}
	for _, want := range []string{"--layout", "--size", "--scale", "--mean", "--std"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	ok := Spec{Input: InputSpec{Layout: "nchw", Size: []int{8, 8}, Channels: "L", Scale: 1, Mean: []float32{0}, Std: []float32{1}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestFindLibraryOrder(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, LibName)
	if err := os.WriteFile(lib, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvLib, lib)
	if p, _, err := FindLibrary(""); err != nil || p != lib {
		t.Fatalf("env: got %q, %v", p, err)
	}
	other := filepath.Join(dir, "other.so")
	if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, _, err := FindLibrary(other); err != nil || p != other {
		t.Fatalf("flag must win over env: got %q, %v", p, err)
	}
	if _, _, err := FindLibrary(filepath.Join(dir, "missing.so")); err == nil || !strings.Contains(err.Error(), "--ort-lib") {
		t.Fatalf("missing explicit library: got %v", err)
	}
	t.Setenv(EnvLib, filepath.Join(dir, "gone.so"))
	if _, _, err := FindLibrary(""); err == nil || !strings.Contains(err.Error(), EnvLib) {
		t.Fatalf("missing env library: got %v", err)
	}
}

func TestMissingLibrarySaysWhereItLooked(t *testing.T) {
	for _, d := range []string{"/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu"} {
		if _, err := os.Stat(filepath.Join(d, LibName)); err == nil {
			t.Skipf("a system copy exists in %s", d)
		}
	}
	t.Setenv(EnvLib, "")
	t.Chdir(t.TempDir())
	_, tried, err := FindLibrary("")
	if err == nil {
		t.Skip("library found beside the test binary")
	}
	msg := err.Error()
	for _, want := range []string{"make deps", "--ort-lib", EnvLib, "/usr/lib"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if len(tried) < 5 {
		t.Errorf("only %d places considered", len(tried))
	}
}
