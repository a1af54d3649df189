package tfjs

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/onnx"
)

// The faithfulness test compares ONNX Runtime's float32 results with tfjs'
// float32 results; both sum in their own order, so they differ by rounding
// that ~60 layers amplify. Two measures:
//
//   - scaleRelDiff: max_i |a_i - b_i| / max_j |b_j|, the error relative to
//     the vector's scale. Asserted < 1e-4 for every tap and for probs.
//   - elemRelDiff: max_i |a_i - b_i| / max(|b_i|, 1e-3 max_j |b_j|), relative
//     to each value. Asserted < 1e-4 for probs. For the global average pools
//     of signed or mostly-off channels it is not a measure of the conversion:
//     a mean near zero of values of either sign carries the rounding of its
//     large terms. Running the same converted mobilenet_v2 in ONNX Runtime
//     with and without graph optimisations (two equally valid float32
//     evaluations) already differs by 4.8e-4 on block_16_project_BN and
//     2.5e-4 on out_relu by this measure, while scaleRelDiff stays < 3e-6.
//     It is logged for the taps.
//
// A conversion mistake is far above 1e-4 of scale: a SAME padding put on
// the wrong side, counting padding in an average pool, a wrong BN epsilon or
// a dequantisation off by one step all move features by 1e-3 to 1e-1.
const maxRelDiff = 1e-4

type reference struct {
	TFJS   string `json:"tfjs"`
	Models []struct {
		Model  string   `json:"model"`
		Size   int      `json:"size"`
		Taps   []string `json:"taps"`
		Images []struct {
			Name        string            `json:"name"`
			InputSHA256 string            `json:"input_sha256"`
			Taps        map[string]string `json:"taps"`
			Probs       string            `json:"probs"`
		} `json:"images"`
	} `json:"models"`
}

func decodeF32(t *testing.T, s string) []float32 {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%4 != 0 {
		t.Fatalf("reference vector is not base64 float32: %v", err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func scaleRelDiff(got, want []float32) float64 {
	var top, d float64
	for i, w := range want {
		top = max(top, math.Abs(float64(w)))
		d = max(d, math.Abs(float64(got[i])-float64(w)))
	}
	if top == 0 {
		if d > 0 {
			return math.Inf(1)
		}
		return 0
	}
	return d / top
}

func elemRelDiff(got, want []float32) float64 {
	var top float64
	for _, w := range want {
		top = max(top, math.Abs(float64(w)))
	}
	floor := 1e-3 * top
	var worst float64
	for i, w := range want {
		d := math.Abs(float64(got[i]) - float64(w))
		den := max(math.Abs(float64(w)), floor)
		if den == 0 {
			if d > 0 {
				return math.Inf(1)
			}
			continue
		}
		worst = max(worst, d/den)
	}
	return worst
}

func TestRelDiffs(t *testing.T) {
	want := []float32{100, 1, 0, -2}
	if d, e := scaleRelDiff(want, want), elemRelDiff(want, want); d != 0 || e != 0 {
		t.Errorf("diffs of x and x = %g, %g", d, e)
	}
	// 1.01 vs 1: 1% of the value itself, 1e-4 of the scale.
	got := []float32{100, 1.01, 0, -2}
	if d := elemRelDiff(got, want); math.Abs(d-0.01) > 1e-6 {
		t.Errorf("elemRelDiff = %g, want 0.01", d)
	}
	if d := scaleRelDiff(got, want); math.Abs(d-1e-4) > 1e-8 {
		t.Errorf("scaleRelDiff = %g, want 1e-4", d)
	}
	// 0.001 vs 0 is judged against 1e-3*100 = 0.1.
	if d := elemRelDiff([]float32{100, 1, 0.001, -2}, want); math.Abs(d-0.01) > 1e-6 {
		t.Errorf("elemRelDiff near zero = %g, want 0.01", d)
	}
	if d, e := scaleRelDiff([]float32{1}, []float32{0}), elemRelDiff([]float32{1}, []float32{0}); !math.IsInf(d, 1) || !math.IsInf(e, 1) {
		t.Errorf("diffs against an all-zero vector = %g, %g, want +Inf", d, e)
	}
}

func nsfwjsDir(t testing.TB) string {
	t.Helper()
	dir := repoPath(".deps/nsfwjs")
	if _, err := os.Stat(dir + "/VERSION"); err != nil {
		t.Skipf("nsfwjs models are not in %s: run scripts/fetch-nsfwjs.sh (make deps) to test the conversion against tfjs", dir)
	}
	return dir
}

// TestMatchesTFJS converts nsfwjs' models and checks that ONNX Runtime gives
// what tfjs gave (testdata/tfjs/reference.json) for the same input tensors,
// at every reference tap and at the model's own softmax output.
func TestMatchesTFJS(t *testing.T) {
	dir := nsfwjsDir(t)
	if err := backbone.Init(""); err != nil {
		t.Fatalf("ONNX Runtime (make deps): %v", err)
	}
	raw, err := os.ReadFile(repoPath("testdata/tfjs/reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Models) < 2 {
		t.Fatalf("reference.json covers %d models, want mobilenet_v2 and inception_v3", len(ref.Models))
	}
	for _, rm := range ref.Models {
		t.Run(rm.Model, func(t *testing.T) {
			m, err := Load(dir + "/" + rm.Model)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Convert(m, Options{Taps: rm.Taps})
			if err != nil {
				t.Fatal(err)
			}
			if res.Spec.Input.Size[0] != rm.Size {
				t.Fatalf("converted input size %v, reference %d", res.Spec.Input.Size, rm.Size)
			}
			data, err := onnx.Marshal(res.Model)
			if err != nil {
				t.Fatal(err)
			}
			// The reference images, regenerated here byte for byte.
			n, size := len(rm.Images), rm.Size
			batch := make([]float32, 0, n*size*size*3)
			for _, img := range rm.Images {
				x, err := inputTensor(repoPath("testdata/images/"+img.Name), size)
				if err != nil {
					t.Fatal(err)
				}
				if got := sha256Hex(x); got != img.InputSHA256 {
					t.Fatalf("%s at %d: input tensor sha256 %s, but the reference was computed on %s; "+
						"the image or its decoding changed: regenerate reference.json (see inputs_test.go)", img.Name, size, got, img.InputSHA256)
				}
				for _, v := range x {
					batch = append(batch, float32(float64(v)/255))
				}
			}
			feats, probs := runConverted(t, data, batch, n, size)
			if len(feats) != n*res.Dim || len(probs) != n*5 {
				t.Fatalf("got %d features and %d probs for %d images, want %d and %d", len(feats), len(probs), n, n*res.Dim, n*5)
			}
			for _, tap := range res.Taps {
				var scale, elem float64
				for i, img := range rm.Images {
					want := decodeF32(t, img.Taps[tap.Layer])
					if len(want) != tap.Dim {
						t.Fatalf("tap %s: reference has %d values, conversion %d", tap.Layer, len(want), tap.Dim)
					}
					got := feats[i*res.Dim+tap.Offset : i*res.Dim+tap.Offset+tap.Dim]
					scale = max(scale, scaleRelDiff(got, want))
					elem = max(elem, elemRelDiff(got, want))
				}
				t.Logf("%s %-20s dim %4d  scaleRelDiff %.2e  (elemRelDiff %.2e)", rm.Model, tap.Layer, tap.Dim, scale, elem)
				if !(scale < maxRelDiff) {
					t.Errorf("tap %s: difference %.3g of the features' scale over %d images, want < %g", tap.Layer, scale, n, maxRelDiff)
				}
			}
			var scale, elem float64
			for i, img := range rm.Images {
				want := decodeF32(t, img.Probs)
				scale = max(scale, scaleRelDiff(probs[i*5:i*5+5], want))
				elem = max(elem, elemRelDiff(probs[i*5:i*5+5], want))
			}
			t.Logf("%s %-20s dim %4d  scaleRelDiff %.2e  elemRelDiff %.2e", rm.Model, "probs", 5, scale, elem)
			if !(scale < maxRelDiff) || !(elem < maxRelDiff) {
				t.Errorf("probs: differences %.3g of scale and %.3g of each value over %d images, want < %g", scale, elem, n, maxRelDiff)
			}
		})
	}
}

// runConverted runs a serialised model on n NHWC images and returns its
// "features" and "probs".
func runConverted(t testing.TB, model []byte, batch []float32, n, size int) (feats, probs []float32) {
	t.Helper()
	return runConvertedHW(t, model, batch, n, size, size)
}

func runConvertedHW(t testing.TB, model []byte, batch []float32, n, h, w int) (feats, probs []float32) {
	t.Helper()
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, []string{InputName}, []string{FeaturesName, ProbsName}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	in, err := ort.NewTensor(ort.NewShape(int64(n), int64(h), int64(w), 3), batch)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	outs := []ort.Value{nil, nil}
	if err := s.Run([]ort.Value{in}, outs); err != nil {
		t.Fatal(err)
	}
	defer outs[0].Destroy()
	defer outs[1].Destroy()
	feats = append(feats, outs[0].(*ort.Tensor[float32]).GetData()...)
	probs = append(probs, outs[1].(*ort.Tensor[float32]).GetData()...)
	return feats, probs
}
