package backbone

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/winnowml/winnow/internal/onnx"
)

// Builtin is a backbone winnow knows by name.
type Builtin struct {
	Name        string
	Description string
	Source      string // where the weights come from
	Dim         int
	Size        [2]int // input [height, width]

	// Imported built-ins are converted by `winnow backbone install` (run by
	// `make deps`) from the Keras model FromModel in the nsfwjs package,
	// tapped at Taps, into Name.onnx in the backbones folder.
	FromModel string
	Taps      []string
}

// File is the ONNX file name of an imported built-in in the backbones folder.
func (b Builtin) File() string { return b.Name + ".onnx" }

// Imported reports whether the built-in comes from converted weights.
func (b Builtin) Imported() bool { return b.FromModel != "" }

// EnvBackbones names the environment variable that points at the folder of
// imported built-in backbones.
const EnvBackbones = "WINNOW_BACKBONES"

// imported lists the built-ins that `make deps` converts from the Keras
// models in the npm package nsfwjs; see bench/backbone-probe.sh for how the
// tapped layers were chosen.
var imported = []Builtin{
	{Name: "mobilenet-v2", Description: "MobileNetV2, global average pools of block_10, block_13 and block_16 (expand_relu) concatenated: the best measured at 100-300 labels",
		Source: "npm nsfwjs@4.4.0 (MIT), Keras MobileNetV2 fine-tuned from ImageNet", Dim: 384 + 576 + 960, Size: [2]int{224, 224},
		FromModel: "mobilenet_v2", Taps: []string{"block_10_expand_relu", "block_13_expand_relu", "block_16_expand_relu"}},
	{Name: "mobilenet-v2-b13", Description: "MobileNetV2, global average pool of block_13_expand_relu alone: a third of the dimensions, about one point less accurate",
		Source: "npm nsfwjs@4.4.0 (MIT), Keras MobileNetV2 fine-tuned from ImageNet", Dim: 576, Size: [2]int{224, 224},
		FromModel: "mobilenet_v2", Taps: []string{"block_13_expand_relu"}},
	{Name: "inception-v3", Description: "InceptionV3, global average pools of mixed5 and mixed7 concatenated: as accurate as mobilenet-v2 here, about 8x slower",
		Source: "npm nsfwjs@4.4.0 (MIT), Keras InceptionV3 fine-tuned from ImageNet", Dim: 768 + 768, Size: [2]int{299, 299},
		FromModel: "inception_v3", Taps: []string{"mixed5", "mixed7"}},
}

// Builtins lists every built-in backbone, the default first.
func Builtins() []Builtin {
	out := append([]Builtin(nil), imported...)
	return append(out, Builtin{Name: "pixels", Description: "the image itself, resized small and flattened (pixels[:HxW][:gray|rgb], default 32x32 rgb): an honest baseline that needs no weights",
		Source: "none (generated)", Dim: 32 * 32 * 3, Size: [2]int{32, 32}})
}

// DefaultName is the backbone featurize uses when --model is not given.
func DefaultName() string { return Builtins()[0].Name }

// Resolve turns a --model value into a model to open: an ONNX file path
// (with its sidecar), or a built-in name. It returns the model bytes, a name
// for messages, and the spec.
func Resolve(model string) (data []byte, where string, spec Spec, err error) {
	if strings.HasSuffix(strings.ToLower(model), ".onnx") || strings.ContainsRune(model, os.PathSeparator) {
		data, err = os.ReadFile(model)
		if err != nil {
			return nil, "", Spec{}, err
		}
		spec, _, err = LoadSidecar(model)
		if spec.Name == "" {
			spec.Name = strings.TrimSuffix(filepath.Base(model), filepath.Ext(model))
		}
		return data, model, spec, err
	}
	if name, opts, ok := strings.Cut(model, ":"); name == "pixels" {
		if !ok {
			opts = ""
		}
		return Pixels(opts)
	}
	for _, b := range imported {
		if b.Name != model {
			continue
		}
		dir, tried := BackbonesDir()
		if dir == "" {
			return nil, "", Spec{}, fmt.Errorf("built-in backbone %s is not installed; looked in:\n  %s\nFix: run `make deps` in the winnow checkout, or set %s", model, strings.Join(tried, "\n  "), EnvBackbones)
		}
		path := filepath.Join(dir, b.File())
		data, err = os.ReadFile(path)
		if err != nil {
			return nil, "", Spec{}, err
		}
		spec, _, err = LoadSidecar(path)
		spec.Name = b.Name
		return data, path, spec, err
	}
	var names []string
	for _, b := range Builtins() {
		names = append(names, b.Name)
	}
	return nil, "", Spec{}, fmt.Errorf("--model %q: no such file, and not a built-in backbone (%s); a model file must end in .onnx", model, strings.Join(names, ", "))
}

// BackbonesDir finds the folder of imported built-ins: $WINNOW_BACKBONES,
// then .deps/backbones beside the executable or above the working directory.
func BackbonesDir() (string, []string) {
	var cands []string
	if env := os.Getenv(EnvBackbones); env != "" {
		cands = append(cands, env)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			// An installed tree (make install, make dist), then a checkout.
			cands = append(cands, filepath.Join(filepath.Dir(exe), "..", "share", "winnow", "backbones"),
				filepath.Join(filepath.Dir(exe), "..", ".deps", "backbones"))
		}
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			cands = append(cands, filepath.Join(dir, ".deps", "backbones"))
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return filepath.Clean(c), cands
		}
	}
	return "", cands
}

// Pixels generates the pixels backbone: the fitted image, scaled to [0,1]
// and flattened. opts is "HxW", "gray"/"rgb", or both separated by ':'.
func Pixels(opts string) ([]byte, string, Spec, error) {
	h, w, channels := 32, 32, "RGB"
	for _, o := range strings.Split(opts, ":") {
		switch o = strings.ToLower(o); {
		case o == "":
		case o == "gray" || o == "grey" || o == "l":
			channels = "L"
		case o == "rgb":
			channels = "RGB"
		default:
			hs, ws, ok := strings.Cut(o, "x")
			hi, err1 := strconv.Atoi(hs)
			wi, err2 := strconv.Atoi(ws)
			if !ok || err1 != nil || err2 != nil || hi <= 0 || wi <= 0 || hi*wi > 1<<20 {
				return nil, "", Spec{}, fmt.Errorf("pixels:%s: want pixels[:HxW][:gray|rgb], e.g. pixels:28x28:gray", opts)
			}
			h, w = hi, wi
		}
	}
	c := 3
	if channels == "L" {
		c = 1
	}
	name := fmt.Sprintf("pixels-%dx%d-%s", h, w, strings.ToLower(channels))
	b := onnx.NewBuilder(name)
	b.Input("input", -1, int64(h), int64(w), int64(c))
	shape := b.Int64("shape", []int64{2}, []int64{0, -1}) // keep the batch, flatten the rest
	b.Node("Reshape", []string{"input", shape}, []string{"features"})
	b.Output("features", -1, int64(h*w*c))
	data, err := onnx.Marshal(b.Model(13, "winnow", "pixels"))
	if err != nil {
		return nil, "", Spec{}, err
	}
	mean, std := []float32{0, 0, 0}, []float32{1, 1, 1}
	if c == 1 {
		mean, std = mean[:1], std[:1]
	}
	spec := Spec{Name: name, Output: "features", Input: InputSpec{Name: "input", Layout: "NHWC", Size: []int{h, w},
		Channels: channels, Scale: 255, Mean: mean, Std: std}}
	return data, "builtin:" + name, spec, nil
}
