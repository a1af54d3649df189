package onnx

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"
)

// initORT loads the ONNX Runtime library that `make deps` puts in .deps.
// (internal/backbone, which knows all the places to look, imports this
// package, so its tests cannot use it.)
func initORT(t *testing.T) {
	t.Helper()
	if ort.IsInitialized() {
		return
	}
	lib := os.Getenv("WINNOW_ORT_LIB")
	if lib == "" {
		_, file, _, _ := runtime.Caller(0)
		lib = filepath.Join(filepath.Dir(file), "..", "..", ".deps", "onnxruntime", "libonnxruntime.so.1")
	}
	if _, err := os.Stat(lib); err != nil {
		t.Fatalf("ONNX Runtime (make deps): %v", err)
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		t.Fatalf("ONNX Runtime %s: %v", lib, err)
	}
}

func TestFreshNamesAreUnique(t *testing.T) {
	b := NewBuilder("g")
	b.Reserve("x")
	got := []string{b.Fresh("x"), b.Fresh("x"), b.Fresh("y"), b.Fresh("x_1"), b.Fresh("x_1")}
	seen := map[string]bool{"x": true}
	for _, n := range got {
		if seen[n] {
			t.Fatalf("Fresh returned %q twice (all: %v)", n, got)
		}
		seen[n] = true
	}
	if got[2] != "y" {
		t.Errorf("Fresh(y) on an unused name = %q, want y", got[2])
	}
}

// A two-layer graph built with the builder must load in ONNX Runtime, keep a
// symbolic batch dimension and compute what a hand calculation says.
func TestBuiltGraphRunsInONNXRuntime(t *testing.T) {
	initORT(t)
	b := NewBuilder("tiny")
	b.Input("x", Batch, 2)
	w := b.Float("w", []int64{2, 3}, []float32{1, 2, 3, -4, -5, -6})
	bias := b.Float("b", []int64{3}, []float32{0.5, 0, -1})
	lo := b.Float("lo", nil, []float32{0})
	hi := b.Float("hi", nil, []float32{2})
	y := b.Op("Gemm", "y", []string{"x", w, bias}, Int("transB", 0))
	b.Node("Clip", []string{y, lo, hi}, []string{"out"})
	b.Output("out", Batch, 3)
	data, err := Marshal(b.Model(13, "winnow-test", "0"))
	if err != nil {
		t.Fatal(err)
	}
	var back ModelProto
	if err := proto.Unmarshal(data, &back); err != nil || len(back.GetGraph().GetNode()) != 2 {
		t.Fatalf("round trip: err=%v nodes=%d", err, len(back.GetGraph().GetNode()))
	}

	s, err := ort.NewDynamicAdvancedSessionWithONNXData(data, []string{"x"}, []string{"out"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	x := []float32{1, 0, 0.25, 0.25, -1, 0}
	in, err := ort.NewTensor(ort.NewShape(3, 2), x)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	outs := []ort.Value{nil}
	if err := s.Run([]ort.Value{in}, outs); err != nil {
		t.Fatal(err)
	}
	defer outs[0].Destroy()
	got := outs[0].(*ort.Tensor[float32]).GetData()
	want := make([]float32, 0, 9)
	W := [2][3]float32{{1, 2, 3}, {-4, -5, -6}}
	B := [3]float32{0.5, 0, -1}
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			v := x[2*r]*W[0][c] + x[2*r+1]*W[1][c] + B[c]
			want = append(want, min(max(v, 0), 2))
		}
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("out = %v, want %v", got, want)
		}
	}
}
