package classifier

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/linear"
)

// goodModel is a small valid model file, as train writes them.
func goodModel(t testing.TB) []byte {
	t.Helper()
	f := &File{Format: Format, Backbone: Backbone{Name: "b", SHA256: "ab", Dim: 3},
		Model: &linear.Model{Classes: []string{"cat", "dog"},
			Norm: linear.Normalization{Kind: linear.NormAuto, Offset: []float64{0, 0, 0}, Scale: []float64{1, 0.5, 2}},
			W:    [][]float64{{1, -2, 0.5}, {-1, 2, -0.5}}, B: []float64{0.1, -0.1}}}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// edit applies change to the decoded JSON of the good model.
func edit(t *testing.T, change func(m map[string]any)) []byte {
	var doc map[string]any
	if err := json.Unmarshal(goodModel(t), &doc); err != nil {
		t.Fatal(err)
	}
	change(doc["model"].(map[string]any))
	data, _ := json.Marshal(doc)
	return data
}

func loadBytes(t testing.TB, data []byte) (*File, error) {
	p := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(p)
}

// The hand-edited models of issue 14 are refused with a message naming the
// bad value; the untouched model loads.
func TestLoadValidates(t *testing.T) {
	if _, err := loadBytes(t, goodModel(t)); err != nil {
		t.Fatalf("the good model: %v", err)
	}
	norm := func(m map[string]any) map[string]any { return m["normalization"].(map[string]any) }
	cases := []struct {
		name   string
		change func(m map[string]any)
		want   string
	}{
		{"bogus normalisation", func(m map[string]any) { norm(m)["kind"] = "bogus" }, `kind "bogus"`},
		{"scale 0 under auto", func(m map[string]any) { norm(m)["scale"] = []float64{1, 0, 2} }, "scale 1 is 0"},
		{"negative scale under standard", func(m map[string]any) {
			norm(m)["kind"] = "standard"
			norm(m)["scale"] = []float64{1, -1, 2}
		}, "scale 1 is -1"},
		{"weight 1e308", func(m map[string]any) { m["w"] = [][]float64{{1e308, 1, 1}, {1, 1, 1}} }, "weight [0][0] is 1e+308"},
		{"intercept 1e100", func(m map[string]any) { m["b"] = []float64{1e100, 0} }, "intercept 0"},
		{"three class names, two classes", func(m map[string]any) { m["classes"] = []string{"a", "b", "c"} }, "3 class names for 2"},
		{"one class", func(m map[string]any) {
			m["classes"], m["b"], m["w"] = []string{"a"}, []float64{0}, [][]float64{{1, 1, 1}}
		}, "at least 2 classes"},
		{"short weight row", func(m map[string]any) { m["w"] = [][]float64{{1, 1}, {1, 1, 1}} }, "weight row 0 has 2 values"},
		{"offsets and scales disagree", func(m map[string]any) { norm(m)["offset"] = []float64{0} }, "1 offsets and 3 scales"},
		{"repeated class", func(m map[string]any) { m["classes"] = []string{"cat", "cat"} }, `"cat" appears twice`},
		{"none with scale 2", func(m map[string]any) { norm(m)["kind"] = "none" }, `"none" is offset 0, scale 1`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadBytes(t, edit(t, c.change))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "not a usable model") {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// FuzzLoad: whatever the file holds, Load does not panic, and a model it
// accepts gives finite probabilities summing to 1, even on the most extreme
// finite float32 features.
func FuzzLoad(f *testing.F) {
	f.Add(goodModel(f))
	good := string(goodModel(f))
	for _, r := range [][2]string{
		{`"auto"`, `"bogus"`},
		{`[1,0.5,2]`, `[1,0,2]`},
		{`[1,-2,0.5]`, `[1e308,-2,0.5]`},
		{`["cat","dog"]`, `["cat","dog","cow"]`},
		{`"dim":3`, `"dim":-1`},
	} {
		f.Add([]byte(strings.Replace(good, r[0], r[1], 1)))
	}
	f.Add([]byte(`{"format":"winnow-model/1","model":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := loadBytes(t, data)
		if err != nil {
			return
		}
		d := m.Model.D()
		if d > 1<<16 {
			return
		}
		for _, v := range []float64{0, math.MaxFloat32, -math.MaxFloat32} {
			x := make([]float64, d)
			for j := range x {
				x[j] = v
			}
			P := m.Predict(mat.NewDense(1, d, x))
			sum := 0.0
			for _, p := range P.RawRowView(0) {
				if math.IsNaN(p) || p < 0 || p > 1 {
					t.Fatalf("probability %v for features all %g", p, v)
				}
				sum += p
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Fatalf("probabilities sum to %v", sum)
			}
		}
	})
}
