package tfjs

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/onnx"
)

// TestZooMatchesTFJS converts testdata/tfjs/zoo, a small model made by
// tools/tfjs-reference/zoo.js that uses every supported layer and the options
// nsfwjs' models leave out (uneven SAME padding, SAME pools, even kernels,
// dilation, depth multiplier, Flatten of a 2x2 map, vector Concatenate), and
// compares every tap and the output with what tfjs computed. Unlike the
// nsfwjs test it needs nothing but ONNX Runtime.
func TestZooMatchesTFJS(t *testing.T) {
	if err := backbone.Init(""); err != nil {
		t.Fatalf("ONNX Runtime (make deps): %v", err)
	}
	raw, err := os.ReadFile(repoPath("testdata/tfjs/zoo/reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Batch, Height, Width int
		Taps                 map[string][]float32
		Output               []float32
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	m, err := Load(repoPath("testdata/tfjs/zoo/model.json"))
	if err != nil {
		t.Fatal(err)
	}
	taps := []string{"c1", "bn", "add", "mp", "ap", "avp", "flat", "vec", "fc"}
	res, err := Convert(m, Options{Taps: taps})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Spec.Input.Size; got[0] != ref.Height || got[1] != ref.Width {
		t.Fatalf("input size %v, want %dx%d", got, ref.Height, ref.Width)
	}
	data, err := onnx.Marshal(res.Model)
	if err != nil {
		t.Fatal(err)
	}
	n := ref.Batch
	x := make([]float32, n*ref.Height*ref.Width*3)
	for i := range x {
		x[i] = float32(float64(i*7919%1000) / 1000) // zoo.js' input(i)
	}
	ortFeats, probs := runConvertedHW(t, data, x, n, ref.Height, ref.Width)
	for _, tap := range res.Taps {
		want := ref.Taps[tap.Layer]
		if len(want) != n*tap.Dim {
			t.Fatalf("tap %s: reference has %d values, conversion %d per image", tap.Layer, len(want), tap.Dim)
		}
		var d float64
		for i := 0; i < n; i++ {
			got := ortFeats[i*res.Dim+tap.Offset : i*res.Dim+tap.Offset+tap.Dim]
			d = max(d, elemRelDiff(got, want[i*tap.Dim:(i+1)*tap.Dim]))
		}
		t.Logf("zoo %-5s %-10s dim %3d  elemRelDiff %.2e", tap.Layer, tap.Shape, tap.Dim, d)
		if !(d < maxRelDiff) {
			t.Errorf("tap %s: relative difference %.3g, want < %g", tap.Layer, d, maxRelDiff)
		}
	}
	if d := elemRelDiff(probs, ref.Output); !(d < maxRelDiff) {
		t.Errorf("output: relative difference %.3g, want < %g", d, maxRelDiff)
	}
}

// The files Save writes are a backbone that internal/backbone opens with its
// sidecar and runs to the same features as the graph itself.
func TestSavedModelOpensAsBackbone(t *testing.T) {
	if err := backbone.Init(""); err != nil {
		t.Fatalf("ONNX Runtime (make deps): %v", err)
	}
	m, err := Load(repoPath("testdata/tfjs/zoo/model.json"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Convert(m, Options{Taps: []string{"bn", "vec"}})
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/zoo.onnx"
	if err := res.Save(path); err != nil {
		t.Fatal(err)
	}
	spec, ok, err := backbone.LoadSidecar(path)
	if err != nil || !ok {
		t.Fatalf("sidecar: ok=%v err=%v", ok, err)
	}
	if spec.Name != "zoo" || spec.Input.Layout != "NHWC" || spec.Input.Channels != "RGB" || spec.Input.Scale != 255 ||
		spec.Input.Mean[0] != 0 || spec.Input.Std[0] != 1 || spec.Output != FeaturesName {
		t.Errorf("sidecar %+v", spec)
	}
	bb, err := backbone.Open(path, spec, backbone.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	if bb.Dim() != 12+60 {
		t.Errorf("backbone dim %d, want 72", bb.Dim())
	}
	x := make([]float32, 2*12*11*3)
	for i := range x {
		x[i] = float32(i%17) / 16
	}
	got, err := bb.Run(nil, x, 2)
	if err != nil {
		t.Fatal(err)
	}
	data, err := onnx.Marshal(res.Model)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := runConvertedHW(t, data, x, 2, 12, 11)
	if len(got) != len(want) {
		t.Fatalf("backbone gave %d values, the graph %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("feature %d: backbone %g, graph %g", i, got[i], want[i])
		}
	}
}

// winnow names a backbone by the sha256 of its .onnx file, so converting the
// same model twice must give the same bytes.
func TestConvertIsDeterministic(t *testing.T) {
	var first []byte
	for i := 0; i < 3; i++ {
		m, err := Load(repoPath("testdata/tfjs/zoo/model.json"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Convert(m, Options{Taps: []string{"vec", "bn", "mp"}})
		if err != nil {
			t.Fatal(err)
		}
		data, err := onnx.Marshal(res.Model)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = data
		} else if string(data) != string(first) {
			t.Fatalf("conversion %d differs from the first (%d vs %d bytes)", i, len(data), len(first))
		}
	}
}
