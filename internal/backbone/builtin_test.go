package backbone

import (
	"strings"
	"testing"
)

func TestPixelsBackboneFlattensItsInput(t *testing.T) {
	initRuntime(t)
	data, where, spec, err := Resolve("pixels:3x2:gray")
	if err != nil {
		t.Fatal(err)
	}
	m, err := OpenData(data, where, spec, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Dim() != 6 || m.InputLen() != 6 || spec.Input.Height() != 3 || spec.Input.Width() != 2 {
		t.Fatalf("dim %d, input %d, size %v", m.Dim(), m.InputLen(), spec.Input.Size)
	}
	in := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	got, err := m.Run(nil, in, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if got[i] != in[i] {
			t.Fatalf("got %v, want the input back %v", got, in)
		}
	}
	rgb, _, spec2, err := Resolve("pixels")
	if err != nil || spec2.Input.Channels != "RGB" || spec2.Input.Height() != 32 {
		t.Fatalf("default pixels: %+v %v", spec2, err)
	}
	if string(rgb) == string(data) {
		t.Fatal("different pixel configurations produced the same graph")
	}
}

func TestResolveErrors(t *testing.T) {
	if _, _, _, err := Resolve("pixels:axb"); err == nil || !strings.Contains(err.Error(), "pixels[:HxW]") {
		t.Errorf("bad pixels option: %v", err)
	}
	if _, _, _, err := Resolve("resnet-9000"); err == nil || !strings.Contains(err.Error(), "pixels") {
		t.Errorf("unknown name should list the built-ins: %v", err)
	}
	if _, _, _, err := Resolve("/nonexistent/m.onnx"); err == nil {
		t.Error("missing file accepted")
	}
}
