package tfjs

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJSToJSON(t *testing.T) {
	// What a minifier writes: bare and quoted keys, !0/!1, .5 and 1e-3
	// numbers, void 0, trailing commas; and strings that contain those very
	// patterns, which must come through untouched.
	src := `{a:!0,b:!1,"c":.5,d:-.25,e:1e-3,f:[1,.5,-2,],g:"!0 and .5 and {x:1}",h:'it\'s "q"',` +
		`i:null,j:void 0,$k:{_l:[]},m:"\u00e9\x41\n",0:1,n:0x1F,o:5.,}`
	got, err := jsToJSON([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got)
	}
	want := map[string]any{
		"a": true, "b": false, "c": 0.5, "d": -0.25, "e": 0.001, "f": []any{1.0, 0.5, -2.0},
		"g": "!0 and .5 and {x:1}", "h": `it's "q"`, "i": nil, "j": nil,
		"$k": map[string]any{"_l": []any{}}, "m": "éA\n", "0": 1.0, "n": 31.0, "o": 5.0,
	}
	gotJSON, _ := json.Marshal(v)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("jsToJSON:\n got %s\nwant %s", gotJSON, wantJSON)
	}
	for _, bad := range []string{`{a:foo}`, `{a:1`, `[1,,2]`, `{a:"x}`, `{a:1} extra`, `{a:!2}`} {
		if _, err := jsToJSON([]byte(bad)); err == nil {
			t.Errorf("jsToJSON(%q) succeeded, want an error", bad)
		}
	}
}

// wrap builds a browserify bundle around value the way nsfwjs' files look,
// with the minifier's renamed parameters.
func wrap(value string) string {
	return `!function(e){if("object"==typeof exports&&"undefined"!=typeof module)module.exports=e();else{` +
		`("undefined"!=typeof window?window:this).model=e()}}(function(){return function e(a,n,i){function o(d,f){` +
		`return n[d].exports}return o}()({1:[function(q,Z,k){Z.exports=` + value + `},{}]},{},[1])(1)});`
}

func TestUnwrapBundle(t *testing.T) {
	body, err := unwrapBundle([]byte(wrap(`{modelTopology:{x:!0}}`) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != `{modelTopology:{x:!0}}` {
		t.Errorf("unwrapBundle = %q", body)
	}
	for _, bad := range []string{
		`module.exports={a:1}`,
		strings.Replace(wrap(`1`), "Z.exports=", "k.exports=", 1), // not the module parameter
		strings.TrimSuffix(wrap(`1`), ");"),
	} {
		if _, err := unwrapBundle([]byte(bad)); err == nil {
			t.Errorf("unwrapBundle(%.60q...) succeeded, want an error", bad)
		}
	}
}

func TestDequantize(t *testing.T) {
	// Hand-made tensors: uint8 and uint16 affine, float16 and raw float32,
	// back to back as in a shard.
	var buf []byte
	buf = append(buf, 0, 1, 255) // uint8, min -1, scale 0.5
	buf = binary.LittleEndian.AppendUint16(buf, 0)
	buf = binary.LittleEndian.AppendUint16(buf, 1000) // uint16, min 2, scale 0.001
	for _, h := range []uint16{0x3c00, 0xc000, 0x0001, 0x7bff} {
		buf = binary.LittleEndian.AppendUint16(buf, h) // float16: 1, -2, 2^-24, 65504
	}
	buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(3.25))
	specs := []weightSpec{}
	if err := json.Unmarshal([]byte(`[
		{"name":"a","shape":[3],"dtype":"float32","quantization":{"dtype":"uint8","min":-1,"scale":0.5}},
		{"name":"b","shape":[2,1],"dtype":"float32","quantization":{"dtype":"uint16","min":2,"scale":0.001}},
		{"name":"c","shape":[4],"dtype":"float32","quantization":{"dtype":"float16"}},
		{"name":"d","shape":[],"dtype":"float32"}]`), &specs); err != nil {
		t.Fatal(err)
	}
	got := map[string]*Tensor{}
	if err := decodeWeights(context.Background(), specs, buf, got); err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{
		"a": {-1, -0.5, 126.5},
		"b": {2, 3},
		"c": {1, -2, float32(math.Ldexp(1, -24)), 65504},
		"d": {3.25},
	}
	for name, w := range want {
		g := got[name]
		if g == nil || len(g.Data) != len(w) {
			t.Fatalf("%s: got %v, want %v", name, g, w)
		}
		for i := range w {
			if g.Data[i] != w[i] {
				t.Errorf("%s[%d] = %g, want %g", name, i, g.Data[i], w[i])
			}
		}
	}
	if s := got["b"].Shape; len(s) != 2 || s[0] != 2 || s[1] != 1 {
		t.Errorf("b shape %v", s)
	}
	// tfjs rounds q*scale+min computed in float64 once to float32.
	scale, lo := 0.006666756611244351, -0.87334511607301
	out := make([]float32, 1)
	dequantize([]byte{131}, 8, scale, lo, out)
	if want := float32(131*scale + lo); out[0] != want {
		t.Errorf("dequantize(131) = %.9g, want %.9g", out[0], want)
	}
	if err := decodeWeights(context.Background(), specs, buf[:len(buf)-1], map[string]*Tensor{}); err == nil {
		t.Error("decodeWeights on short shards succeeded")
	}
	if err := decodeWeights(context.Background(), specs, append(buf, 0), map[string]*Tensor{}); err == nil {
		t.Error("decodeWeights with bytes left over succeeded")
	}
}

func TestTFPadsSame(t *testing.T) {
	// Hand computation: out = ceil(in/s); total = max((out-1)*s + k - in, 0);
	// the odd pixel of total goes after.
	cases := []struct {
		in, k, s, d        int
		out, before, after int
	}{
		{224, 3, 1, 1, 224, 1, 1}, // odd kernel, stride 1: symmetric
		{224, 3, 2, 1, 112, 0, 1}, // even size, stride 2: (111*2+3-224)=1 -> 0 before, 1 after
		{225, 3, 2, 1, 113, 1, 1}, // odd size, stride 2: 112*2+3-225=2
		{7, 3, 2, 1, 4, 1, 1},     // 3*2+3-7=2
		{8, 3, 2, 1, 4, 0, 1},     // 3*2+3-8=1
		{6, 4, 1, 1, 6, 1, 2},     // even kernel: total 3
		{5, 1, 2, 1, 3, 0, 0},     // 1x1 stride 2: 2*2+1-5=0
		{4, 7, 1, 1, 4, 3, 3},     // kernel larger than input
		{9, 3, 1, 2, 9, 2, 2},     // dilation 2: effective kernel 5
		{10, 5, 3, 1, 4, 2, 2},    // 3*3+5-10=4
		{299, 3, 2, 1, 150, 1, 1}, // 149*2+3-299=2
		{17, 3, 2, 1, 9, 1, 1},
		{1, 3, 2, 1, 1, 1, 1},
	}
	for _, c := range cases {
		out, b, a, err := tfPads(c.in, c.k, c.s, c.d, "same")
		if err != nil || out != c.out || b != c.before || a != c.after {
			t.Errorf("same in=%d k=%d s=%d d=%d: got out=%d pads=(%d,%d) err=%v, want out=%d pads=(%d,%d)",
				c.in, c.k, c.s, c.d, out, b, a, err, c.out, c.before, c.after)
		}
	}
	valid := []struct{ in, k, s, d, out int }{
		{225, 3, 2, 1, 112}, {299, 3, 2, 1, 149}, {147, 3, 1, 1, 145}, {8, 8, 8, 1, 1}, {7, 7, 7, 1, 1}, {9, 3, 1, 2, 5}, {35, 3, 2, 1, 17},
	}
	for _, c := range valid {
		out, b, a, err := tfPads(c.in, c.k, c.s, c.d, "valid")
		if err != nil || out != c.out || b != 0 || a != 0 {
			t.Errorf("valid in=%d k=%d s=%d d=%d: got out=%d pads=(%d,%d) err=%v, want out=%d", c.in, c.k, c.s, c.d, out, b, a, err, c.out)
		}
	}
	if _, _, _, err := tfPads(2, 3, 1, 1, "valid"); err == nil {
		t.Error("valid window larger than the input: no error")
	}
}

// tinyModel writes a Sequential-free functional model.json with the given
// extra layers after a 4x4x3 input and a 1x1 conv, plus its weights.
func writeTinyModel(t *testing.T, dir string, extra string, extraWeights string, extraBytes []byte) string {
	t.Helper()
	layers := `{"name":"in","class_name":"InputLayer","config":{"batch_input_shape":[null,4,4,3],"dtype":"float32"},"inbound_nodes":[]},
		{"name":"conv","class_name":"Conv2D","config":{"filters":2,"kernel_size":[1,1],"strides":[1,1],"padding":"valid","data_format":"channels_last","dilation_rate":[1,1],"activation":"relu","use_bias":false},"inbound_nodes":[[["in",0,0,{}]]]},
		{"name":"gap","class_name":"GlobalAveragePooling2D","config":{"data_format":"channels_last"},"inbound_nodes":[[["conv",0,0,{}]]]}`
	last := "gap"
	if extra != "" {
		layers += "," + extra
		last = "head"
	}
	mj := `{"format":"layers-model","modelTopology":{"keras_version":"2.2.4","model_config":{"class_name":"Model","config":{"name":"tiny","layers":[` +
		layers + `],"input_layers":[["in",0,0]],"output_layers":[["` + last + `",0,0]]}}},` +
		`"weightsManifest":[{"paths":["w.bin"],"weights":[{"name":"conv/kernel","shape":[1,1,3,2],"dtype":"float32"}` + extraWeights + `]}]}`
	var w []byte
	for _, v := range []float32{1, 0, 0, 1, 0, -1} {
		w = binary.LittleEndian.AppendUint32(w, math.Float32bits(v))
	}
	w = append(w, extraBytes...)
	if err := os.WriteFile(filepath.Join(dir, "model.json"), []byte(mj), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), w, 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "model.json")
}

func TestUnsupportedLayerIsNamed(t *testing.T) {
	path := writeTinyModel(t, t.TempDir(),
		`{"name":"head","class_name":"LSTM","config":{"units":4},"inbound_nodes":[[["gap",0,0,{}]]]}`, "", nil)
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Convert(m, Options{})
	if err == nil || !strings.Contains(err.Error(), "head") || !strings.Contains(err.Error(), "LSTM") {
		t.Fatalf("Convert with an LSTM head: err = %v, want one naming layer head and type LSTM", err)
	}
	// The tap before the unsupported head still converts without probs.
	res, err := Convert(m, Options{Taps: []string{"gap"}, NoProbs: true})
	if err != nil {
		t.Fatalf("tap before an unsupported head with NoProbs: %v", err)
	}
	if res.Dim != 2 || res.Probs != nil || len(res.Model.GetGraph().GetOutput()) != 1 {
		t.Errorf("NoProbs conversion: dim %d, probs %v, %d outputs", res.Dim, res.Probs, len(res.Model.GetGraph().GetOutput()))
	}
	// --list-layers shows the problem on the layer instead of failing.
	sum, err := m.Summary()
	if err != nil {
		t.Fatal(err)
	}
	if last := sum[len(sum)-1]; last.Name != "head" || last.Err == nil || sum[2].Err != nil || sum[1].Shape.String() != "4x4x2" {
		t.Errorf("Summary: %+v", sum)
	}
}

func TestUnsupportedOptionIsNamed(t *testing.T) {
	cases := []struct{ layer, option string }{
		{`{"name":"head","class_name":"ReLU","config":{"max_value":6,"negative_slope":0.1,"threshold":0},"inbound_nodes":[[["gap",0,0,{}]]]}`, "negative_slope"},
		{`{"name":"head","class_name":"Activation","config":{"activation":"selu"},"inbound_nodes":[[["gap",0,0,{}]]]}`, "activation=selu"},
		{`{"name":"head","class_name":"Flatten","config":{"data_format":"channels_first"},"inbound_nodes":[[["gap",0,0,{}]]]}`, "data_format=channels_first"},
		{`{"name":"head","class_name":"Conv2D","config":{"filters":2,"kernel_size":3,"padding":"causal"},"inbound_nodes":[[["conv",0,0,{}]]]}`, "padding=causal"},
		{`{"name":"head","class_name":"Dense","config":{"units":3,"activation":"relu"},"inbound_nodes":[[["conv",0,0,{}]]]}`, "vector input"},
		{`{"name":"head","class_name":"Dropout","config":{"rate":0.5},"inbound_nodes":[[["gap",0,0,{}]],[["gap",0,0,{}]]]}`, "shared layers"},
	}
	for _, c := range cases {
		path := writeTinyModel(t, t.TempDir(), c.layer, "", nil)
		m, err := Load(path)
		if err == nil {
			_, err = Convert(m, Options{Taps: []string{"gap"}})
		}
		if err == nil || !strings.Contains(err.Error(), "head") || !strings.Contains(err.Error(), c.option) {
			t.Errorf("%s: err = %v, want one naming layer head and %q", c.option, err, c.option)
		}
	}
}

func TestLoadWrappedFolder(t *testing.T) {
	// The same tiny model as nsfwjs ships it: model.min.js with a JS object
	// literal, and a base64 weight shard in w.bin.min.js.
	dir := t.TempDir()
	writeTinyModel(t, dir, "", "", nil)
	mj, _ := os.ReadFile(filepath.Join(dir, "model.json"))
	w, _ := os.ReadFile(filepath.Join(dir, "w.bin"))
	lit := strings.NewReplacer(`"format":`, `format:`, `"class_name":`, `class_name:`, `false`, `!1`, `true`, `!0`).Replace(string(mj))
	os.Remove(filepath.Join(dir, "model.json"))
	os.Remove(filepath.Join(dir, "w.bin"))
	if err := os.WriteFile(filepath.Join(dir, "model.min.js"), []byte(wrap(lit)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "w.bin.min.js"), []byte(wrap(`"`+base64.StdEncoding.EncodeToString(w)+`"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	k := m.Weights["conv/kernel"]
	if k == nil || len(k.Data) != 6 || k.Data[5] != -1 {
		t.Fatalf("conv/kernel = %+v", k)
	}
	if tap, _ := m.DefaultTap(); tap != "gap" {
		t.Errorf("DefaultTap = %q, want gap", tap)
	}
	res, err := Convert(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Dim != 2 || res.Spec.Input.Size[0] != 4 || res.Spec.Input.Layout != "NHWC" || res.Spec.Input.Scale != 255 || res.Spec.Output != FeaturesName {
		t.Errorf("Convert: dim %d spec %+v", res.Dim, res.Spec)
	}
}

func TestSequentialModel(t *testing.T) {
	// Keras 2.2.4 Sequential: no InputLayer, batch_input_shape on the first layer.
	dir := t.TempDir()
	mj := `{"modelTopology":{"class_name":"Sequential","config":{"name":"seq","layers":[
		{"class_name":"Conv2D","config":{"name":"c","batch_input_shape":[null,5,6,3],"filters":2,"kernel_size":[3,3],"strides":[2,2],"padding":"same","use_bias":false,"activation":"relu"}},
		{"class_name":"GlobalAveragePooling2D","config":{"name":"g"}},
		{"class_name":"Dense","config":{"name":"d","units":4,"activation":"softmax","use_bias":false}}]}},
		"weightsManifest":[{"paths":["w.bin"],"weights":[{"name":"c/kernel","shape":[3,3,3,2],"dtype":"float32"},{"name":"d/kernel","shape":[2,4],"dtype":"float32"}]}]}`
	if err := os.WriteFile(filepath.Join(dir, "model.json"), []byte(mj), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), make([]byte, 4*(54+8)), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := m.Summary()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range sum {
		got = append(got, l.Name+":"+l.Class+":"+l.Shape.String())
	}
	want := "c_input:InputLayer:5x6x3 c:Conv2D:3x3x2 g:GlobalAveragePooling2D:2 d:Dense:4"
	if strings.Join(got, " ") != want {
		t.Errorf("Sequential layers:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	res, err := Convert(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Taps[0].Layer != "g" || res.Dim != 2 || res.Probs.String() != "4" {
		t.Errorf("Convert: taps %+v dim %d probs %v", res.Taps, res.Dim, res.Probs)
	}
}
