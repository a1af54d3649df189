package tfjs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/onnx"
	"github.com/winnowml/winnow/internal/outfile"
)

// Names of the converted graph's tensors.
const (
	InputName    = "input"    // [batch, H, W, C] float32, NHWC, as the Keras model takes it
	FeaturesName = "features" // [batch, D]: the global average of each tap, concatenated
	ProbsName    = "probs"    // the Keras model's own output
	Opset        = 13
)

// node is a layer in the model's graph with its parsed op and output shape.
// err is why the layer cannot be converted, its own problem or an input's.
type node struct {
	layer *Layer
	op    op
	in    []*node
	out   []*node // the layers it feeds
	shape Shape
	err   error
}

// graph resolves every layer of m. It fails only for problems of the model
// as a whole; a layer that cannot be converted carries its error, so a tap
// before an unsupported head can still be converted without the head.
func (m *Model) graph() (map[string]*node, error) {
	byName := map[string]*Layer{}
	for _, l := range m.Layers {
		if _, dup := byName[l.Name]; dup {
			return nil, fmt.Errorf("two layers are named %q", l.Name)
		}
		byName[l.Name] = l
	}
	nodes := map[string]*node{}
	visiting := map[string]bool{}
	var resolve func(name string) (*node, error)
	resolve = func(name string) (*node, error) {
		if n, ok := nodes[name]; ok {
			return n, nil
		}
		l, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("no layer named %q", name)
		}
		if visiting[name] {
			return nil, fmt.Errorf("layer %s is part of a cycle", name)
		}
		visiting[name] = true
		n := &node{layer: l}
		var inShapes []Shape
		for _, src := range l.Inbound {
			in, err := resolve(src)
			if err != nil {
				return nil, fmt.Errorf("input of layer %s: %w", name, err)
			}
			n.in = append(n.in, in)
			in.out = append(in.out, n)
			if in.err != nil && n.err == nil {
				n.err = in.err
			}
			inShapes = append(inShapes, in.shape)
		}
		if n.err == nil {
			n.op, n.err = parseLayer(l)
		}
		if n.err == nil {
			if l.Class != "InputLayer" && len(l.Inbound) == 0 {
				n.err = fmt.Errorf("layer %s (%s) has no inputs", l.Name, l.Class)
			} else if n.shape, n.err = n.op.outShape(inShapes); n.err != nil {
				n.err = fmt.Errorf("layer %s (%s): %w", l.Name, l.Class, n.err)
			} else if !n.shape.bounded() {
				// Layer options (filters, units, upsampling) can grow a shape
				// past anything a backbone has; refuse before emitting it.
				n.err = fmt.Errorf("layer %s (%s): output shape %v has more than %d elements", l.Name, l.Class, n.shape, maxActivation)
			}
		}
		nodes[name] = n
		return n, nil
	}
	for _, l := range m.Layers {
		if _, err := resolve(l.Name); err != nil {
			return nil, err
		}
	}
	for _, name := range append(append([]string(nil), m.Inputs...), m.Outputs...) {
		if _, ok := nodes[name]; !ok {
			return nil, fmt.Errorf("model input/output %q is not a layer", name)
		}
	}
	return nodes, nil
}

// LayerInfo describes one layer for `--list-layers`.
type LayerInfo struct {
	Name   string
	Class  string
	Shape  Shape // output shape without the batch dimension; nil if unknown
	Inputs []string
	Err    error // why this layer, or one before it, cannot be converted
}

// FeatureDim is the length of this layer's tap: its channel count.
func (li LayerInfo) FeatureDim() int {
	if len(li.Shape) == 0 {
		return 0
	}
	return li.Shape[len(li.Shape)-1]
}

// Summary lists the layers in the model's order with their output shapes.
func (m *Model) Summary() ([]LayerInfo, error) {
	nodes, err := m.graph()
	if err != nil {
		return nil, err
	}
	var out []LayerInfo
	for _, l := range m.Layers {
		n := nodes[l.Name]
		out = append(out, LayerInfo{Name: l.Name, Class: l.Class, Shape: n.shape, Inputs: l.Inbound, Err: n.err})
	}
	return out, nil
}

// DefaultTap is the layer whose output feeds the classifier head: the last
// Flatten or GlobalAveragePooling2D before the model's output.
func (m *Model) DefaultTap() (string, error) {
	for i := len(m.Layers) - 1; i >= 0; i-- {
		switch m.Layers[i].Class {
		case "Flatten", "GlobalAveragePooling2D":
			return m.Layers[i].Name, nil
		}
	}
	return "", errors.New("the model has no Flatten or GlobalAveragePooling2D layer to take features from: name a tap")
}

// Options steer Convert.
type Options struct {
	Name    string   // backbone name for the sidecar
	Taps    []string // layers whose global average pools make "features"; empty: DefaultTap
	NoProbs bool     // leave out "probs" and the layers only it needs
}

// Tap is one layer contributing to "features".
type Tap struct {
	Layer  string
	Shape  Shape
	Offset int // first feature index
	Dim    int
}

// Result is a converted model.
type Result struct {
	Model *onnx.ModelProto
	Spec  backbone.Spec // the sidecar FILE.onnx.json
	Taps  []Tap
	Dim   int   // len of "features"
	Probs Shape // shape of "probs" without the batch dimension; nil with NoProbs
}

// Convert builds the ONNX graph: "input" NHWC float [batch,H,W,C] ->
// "features" [batch, Dim] (the spatial mean of each tap, concatenated) and,
// unless NoProbs, "probs" (the model's own output, NHWC if it is an image).
// Only the layers the outputs need are converted.
func Convert(m *Model, opt Options) (*Result, error) {
	return ConvertContext(context.Background(), m, opt)
}

// maxActivation bounds the elements of one layer's output for one image.
const maxActivation = 1 << 30

func (s Shape) bounded() bool {
	n := 1
	for _, d := range s {
		if d < 0 || (d > 0 && n > maxActivation/d) {
			return false
		}
		n *= d
	}
	return true
}

// ConvertContext is Convert, stopping between layers when ctx ends.
func ConvertContext(ctx context.Context, m *Model, opt Options) (*Result, error) {
	nodes, err := m.graph()
	if err != nil {
		return nil, err
	}
	if len(m.Inputs) != 1 {
		return nil, fmt.Errorf("the model has %d inputs; one image input is supported", len(m.Inputs))
	}
	taps := opt.Taps
	if len(taps) == 0 {
		t, err := m.DefaultTap()
		if err != nil {
			return nil, err
		}
		taps = []string{t}
	}
	in := nodes[m.Inputs[0]]
	if in.err != nil {
		return nil, in.err
	}
	if in.shape[2] != 3 {
		return nil, fmt.Errorf("input layer %s has %d channels; RGB (3) is supported", in.layer.Name, in.shape[2])
	}
	e := &emitter{ctx: ctx, m: m, b: onnx.NewBuilder(nameOr(m.Name, "model")), names: map[*node]string{}}
	e.b.Input(InputName, onnx.Batch, int64(in.shape[0]), int64(in.shape[1]), int64(in.shape[2]))
	res := &Result{}
	var feats []string
	seen := map[string]bool{}
	for _, t := range taps {
		n, ok := nodes[t]
		if !ok {
			return nil, fmt.Errorf("--tap %s: no such layer (see --list-layers)", t)
		}
		if seen[t] {
			return nil, fmt.Errorf("--tap %s is given twice", t)
		}
		seen[t] = true
		x, err := e.tensor(n)
		if err != nil {
			return nil, err
		}
		switch len(n.shape) {
		case 3:
			x = e.b.Op("ReduceMean", t+"/gap", []string{x}, onnx.Ints("axes", 2, 3), onnx.Int("keepdims", 0))
		case 1:
		default:
			return nil, fmt.Errorf("--tap %s: output shape %v is neither an image nor a vector", t, n.shape)
		}
		d := n.shape[len(n.shape)-1]
		res.Taps = append(res.Taps, Tap{Layer: t, Shape: n.shape, Offset: res.Dim, Dim: d})
		res.Dim += d
		feats = append(feats, x)
	}
	if len(feats) == 1 {
		e.b.Node("Identity", feats, []string{FeaturesName})
	} else {
		e.b.Node("Concat", feats, []string{FeaturesName}, onnx.Int("axis", 1))
	}
	e.b.Output(FeaturesName, onnx.Batch, int64(res.Dim))
	if !opt.NoProbs {
		if len(m.Outputs) != 1 {
			return nil, fmt.Errorf("the model has %d outputs; use --no-probs or a model with one output", len(m.Outputs))
		}
		out := nodes[m.Outputs[0]]
		x, err := e.tensor(out)
		if err != nil {
			return nil, fmt.Errorf("the model's output (leave it out with --no-probs): %w", err)
		}
		if len(out.shape) == 3 {
			x = e.b.Op("Transpose", x+"/nhwc", []string{x}, onnx.Ints("perm", 0, 2, 3, 1))
		}
		e.b.Node("Identity", []string{x}, []string{ProbsName})
		dims := []int64{onnx.Batch}
		for _, d := range out.shape {
			dims = append(dims, int64(d))
		}
		e.b.Output(ProbsName, dims...)
		res.Probs = out.shape
	}
	res.Model = e.b.Model(Opset, "winnow", "")
	var tapNames []string
	for _, t := range res.Taps {
		tapNames = append(tapNames, t.Layer)
	}
	res.Model.DocString = ptr(fmt.Sprintf("Converted by winnow from the TF.js layers model %s (Keras %s, model %q). "+
		"input: NHWC float32 RGB; the sidecar assumes pixel/255, as nsfwjs feeds its models. features: spatial mean of %s. probs: the model's own output.",
		filepath.Base(m.Source), m.KerasVersion, m.Name, strings.Join(tapNames, ", ")))
	res.Spec = backbone.Spec{
		Name: opt.Name,
		Input: backbone.InputSpec{
			Name:   InputName,
			Layout: "NHWC",
			Size:   []int{in.shape[0], in.shape[1]},
			// nsfwjs (dist/cjs/core.js) feeds RGB pixels divided by 255, and its
			// models were trained with Keras' ImageDataGenerator(rescale=1/255):
			// so scale 255, mean 0, std 1.
			Channels: "RGB",
			Scale:    255,
			Mean:     []float32{0, 0, 0},
			Std:      []float32{1, 1, 1},
		},
		Output: FeaturesName,
	}
	return res, nil
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// Save writes the model to path and its sidecar to path+".json", each via
// a temporary file and a rename so that a failed run leaves no half file.
func (r *Result) Save(path string) error {
	data, err := onnx.Marshal(r.Model)
	if err != nil {
		return err
	}
	if r.Spec.Name == "" {
		r.Spec.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	side, err := marshalSpec(r.Spec)
	if err != nil {
		return err
	}
	// The model and its sidecar go together: neither replaces an older
	// one unless both are complete.
	var g outfile.Group
	defer g.Abort()
	if err := g.Add(path, data); err != nil {
		return err
	}
	if err := g.Add(backbone.SidecarPath(path), side); err != nil {
		return err
	}
	return g.Commit()
}

func marshalSpec(s backbone.Spec) ([]byte, error) {
	data, err := json.MarshalIndent(s, "", "  ")
	return append(data, '\n'), err
}

// emitter writes the ONNX nodes of each needed layer once.
type emitter struct {
	ctx    context.Context
	m      *Model
	b      *onnx.Builder
	names  map[*node]string
	consts map[float32]string
}

// tensor returns the ONNX tensor holding n's output, converting n and what
// it depends on first.
func (e *emitter) tensor(n *node) (string, error) {
	if name, ok := e.names[n]; ok {
		return name, nil
	}
	if n.err != nil {
		return "", n.err
	}
	if err := e.ctx.Err(); err != nil {
		return "", err
	}
	var ins []string
	for _, in := range n.in {
		x, err := e.tensor(in)
		if err != nil {
			return "", err
		}
		ins = append(ins, x)
	}
	out, err := n.op.emit(e, n, ins)
	if err != nil {
		return "", fmt.Errorf("layer %s (%s): %w", n.layer.Name, n.layer.Class, err)
	}
	e.names[n] = out
	return out, nil
}

// weight fetches layer/var and checks its shape.
func (e *emitter) weight(n *node, v string, shape ...int) (*Tensor, error) {
	name := n.layer.Name + "/" + v
	t, ok := e.m.Weights[name]
	if !ok {
		return nil, fmt.Errorf("weight %s is missing from the manifest", name)
	}
	if Shape(t.Shape).String() != Shape(shape).String() || len(t.Shape) != len(shape) {
		return nil, fmt.Errorf("weight %s has shape %v, want %v", name, t.Shape, shape)
	}
	return t, nil
}

// scalar is a shared float32 scalar initializer holding v.
func (e *emitter) scalar(v float32) string {
	if name, ok := e.consts[v]; ok {
		return name
	}
	if e.consts == nil {
		e.consts = map[float32]string{}
	}
	e.consts[v] = e.b.Float(fmt.Sprintf("const_%g", v), nil, []float32{v})
	return e.consts[v]
}

func (e *emitter) activate(x, act, prefix string) string {
	switch act {
	case "relu":
		return e.b.Op("Relu", prefix+"/relu", []string{x})
	case "relu6":
		return e.b.Op("Clip", prefix+"/relu6", []string{x, e.scalar(0), e.scalar(6)})
	case "sigmoid":
		return e.b.Op("Sigmoid", prefix+"/sigmoid", []string{x})
	case "tanh":
		return e.b.Op("Tanh", prefix+"/tanh", []string{x})
	case "softmax":
		// Keras' softmax runs over the last (channel) axis, which is axis 1
		// of both an NCHW image and an [N, C] vector.
		return e.b.Op("Softmax", prefix+"/softmax", []string{x}, onnx.Int("axis", 1))
	}
	return x // linear
}

func (inputOp) emit(e *emitter, n *node, _ []string) (string, error) {
	return e.b.Op("Transpose", n.layer.Name, []string{InputName}, onnx.Ints("perm", 0, 3, 1, 2)), nil
}

func (o convOp) emit(e *emitter, n *node, in []string) (string, error) {
	inS := n.in[0].shape
	cin := inS[2]
	kh, kw := o.kernel[0], o.kernel[1]
	var w []float32
	var wShape []int64
	group := int64(1)
	if o.depthwise {
		// TF depthwise kernel [kh, kw, C, mult]; output channel c*mult+m.
		k, err := e.weight(n, "depthwise_kernel", kh, kw, cin, o.mult)
		if err != nil {
			return "", err
		}
		cout := cin * o.mult
		w = make([]float32, cout*kh*kw)
		for i := 0; i < kh; i++ {
			for j := 0; j < kw; j++ {
				for c := 0; c < cin; c++ {
					for m := 0; m < o.mult; m++ {
						w[((c*o.mult+m)*kh+i)*kw+j] = k.Data[((i*kw+j)*cin+c)*o.mult+m]
					}
				}
			}
		}
		wShape = []int64{int64(cout), 1, int64(kh), int64(kw)}
		group = int64(cin)
	} else {
		// TF kernel HWIO -> ONNX OIHW.
		k, err := e.weight(n, "kernel", kh, kw, cin, o.filters)
		if err != nil {
			return "", err
		}
		w = make([]float32, len(k.Data))
		for i := 0; i < kh; i++ {
			for j := 0; j < kw; j++ {
				for c := 0; c < cin; c++ {
					for f := 0; f < o.filters; f++ {
						w[((f*cin+c)*kh+i)*kw+j] = k.Data[((i*kw+j)*cin+c)*o.filters+f]
					}
				}
			}
		}
		wShape = []int64{int64(o.filters), int64(cin), int64(kh), int64(kw)}
	}
	name := n.layer.Name
	inputs := []string{in[0], e.b.Float(name+"/W", wShape, w)}
	if o.bias {
		b, err := e.weight(n, "bias", n.shape[2])
		if err != nil {
			return "", err
		}
		inputs = append(inputs, e.b.Float(name+"/B", []int64{int64(n.shape[2])}, b.Data))
	}
	_, top, bottom, _ := tfPads(inS[0], kh, o.strides[0], o.dilation[0], o.padding)
	_, left, right, _ := tfPads(inS[1], kw, o.strides[1], o.dilation[1], o.padding)
	x := e.b.Op("Conv", name, inputs,
		onnx.Ints("kernel_shape", int64(kh), int64(kw)),
		onnx.Ints("strides", int64(o.strides[0]), int64(o.strides[1])),
		onnx.Ints("dilations", int64(o.dilation[0]), int64(o.dilation[1])),
		onnx.Ints("pads", int64(top), int64(left), int64(bottom), int64(right)),
		onnx.Int("group", group))
	return e.activate(x, o.act, name), nil
}

func (o batchNormOp) emit(e *emitter, n *node, in []string) (string, error) {
	c := n.shape[len(n.shape)-1]
	ones := func(v float32) []float32 {
		s := make([]float32, c)
		for i := range s {
			s[i] = v
		}
		return s
	}
	gamma, beta := ones(1), ones(0)
	if o.scale {
		g, err := e.weight(n, "gamma", c)
		if err != nil {
			return "", err
		}
		gamma = g.Data
	}
	if o.center {
		b, err := e.weight(n, "beta", c)
		if err != nil {
			return "", err
		}
		beta = b.Data
	}
	mean, err := e.weight(n, "moving_mean", c)
	if err != nil {
		return "", err
	}
	variance, err := e.weight(n, "moving_variance", c)
	if err != nil {
		return "", err
	}
	name := n.layer.Name
	cs := []int64{int64(c)}
	return e.b.Op("BatchNormalization", name, []string{in[0],
		e.b.Float(name+"/gamma", cs, gamma), e.b.Float(name+"/beta", cs, beta),
		e.b.Float(name+"/mean", cs, mean.Data), e.b.Float(name+"/var", cs, variance.Data)},
		onnx.Flt("epsilon", float32(o.eps))), nil
}

func (o reluOp) emit(e *emitter, n *node, in []string) (string, error) {
	if o.max == nil {
		return e.b.Op("Relu", n.layer.Name, in), nil
	}
	return e.b.Op("Clip", n.layer.Name, []string{in[0], e.scalar(0), e.scalar(float32(*o.max))}), nil
}

func (o activationOp) emit(e *emitter, n *node, in []string) (string, error) {
	return e.activate(in[0], o.act, n.layer.Name), nil
}

func (identityOp) emit(_ *emitter, _ *node, in []string) (string, error) { return in[0], nil }

func (o zeroPadOp) emit(e *emitter, n *node, in []string) (string, error) {
	for _, next := range n.out {
		if _, ok := next.op.(poolOp); ok {
			return o.emitAsConv(e, n, in)
		}
	}
	pads := e.b.Int64(n.layer.Name+"/pads", []int64{8}, []int64{0, 0, int64(o.top), int64(o.left), 0, 0, int64(o.bottom), int64(o.right)})
	return e.b.Op("Pad", n.layer.Name, []string{in[0], pads}, onnx.Str("mode", "constant")), nil
}

// emitAsConv zero-pads with a depthwise 1x1 convolution of weight 1, which
// is exact. A Pad node in front of a pool is what ONNX Runtime's PadFusion
// (optimisation level basic, on by default) merges into the pool's own pads,
// which are not zeros -- MaxPool ignores them, as AveragePool with
// count_include_pad=0 does -- and which it then refuses to load when they are
// as large as the window.
func (o zeroPadOp) emitAsConv(e *emitter, n *node, in []string) (string, error) {
	c := n.shape[2]
	ones := make([]float32, c)
	for i := range ones {
		ones[i] = 1
	}
	w := e.b.Float(n.layer.Name+"/W", []int64{int64(c), 1, 1, 1}, ones)
	return e.b.Op("Conv", n.layer.Name, []string{in[0], w},
		onnx.Ints("kernel_shape", 1, 1),
		onnx.Ints("pads", int64(o.top), int64(o.left), int64(o.bottom), int64(o.right)),
		onnx.Int("group", int64(c))), nil
}

func (addOp) emit(e *emitter, n *node, in []string) (string, error) {
	if len(in) == 2 {
		return e.b.Op("Add", n.layer.Name, in), nil
	}
	return e.b.Op("Sum", n.layer.Name, in), nil
}

func (o concatOp) emit(e *emitter, n *node, in []string) (string, error) {
	return e.b.Op("Concat", n.layer.Name, in, onnx.Int("axis", int64(onnxAxis(o.axis, len(n.shape))))), nil
}

func (o poolOp) emit(e *emitter, n *node, in []string) (string, error) {
	inS := n.in[0].shape
	_, top, bottom, _ := tfPads(inS[0], o.size[0], o.strides[0], 1, o.padding)
	_, left, right, _ := tfPads(inS[1], o.size[1], o.strides[1], 1, o.padding)
	attrs := []*onnx.AttributeProto{
		onnx.Ints("kernel_shape", int64(o.size[0]), int64(o.size[1])),
		onnx.Ints("strides", int64(o.strides[0]), int64(o.strides[1])),
		onnx.Ints("pads", int64(top), int64(left), int64(bottom), int64(right)),
	}
	if o.max {
		// ONNX MaxPool never lets padding win, like TensorFlow.
		return e.b.Op("MaxPool", n.layer.Name, in, attrs...), nil
	}
	// TensorFlow averages SAME windows over the pixels inside the image only.
	attrs = append(attrs, onnx.Int("count_include_pad", 0))
	return e.b.Op("AveragePool", n.layer.Name, in, attrs...), nil
}

func (o gapOp) emit(e *emitter, n *node, in []string) (string, error) {
	keep := int64(0)
	if o.keepdims {
		keep = 1
	}
	return e.b.Op("ReduceMean", n.layer.Name, in, onnx.Ints("axes", 2, 3), onnx.Int("keepdims", keep)), nil
}

func (flattenOp) emit(e *emitter, n *node, in []string) (string, error) {
	s := n.in[0].shape
	switch {
	case len(s) == 1:
		return in[0], nil
	case len(s) == 3 && s[0] == 1 && s[1] == 1:
		// [N,C,1,1] flattens to the same order as Keras' [N,1,1,C].
		return e.b.Op("Flatten", n.layer.Name, in, onnx.Int("axis", 1)), nil
	case len(s) == 3:
		// Keras flattens NHWC: go back to that order first.
		x := e.b.Op("Transpose", n.layer.Name+"/nhwc", in, onnx.Ints("perm", 0, 2, 3, 1))
		return e.b.Op("Flatten", n.layer.Name, []string{x}, onnx.Int("axis", 1)), nil
	}
	return "", fmt.Errorf("cannot flatten shape %v", s)
}

func (o denseOp) emit(e *emitter, n *node, in []string) (string, error) {
	cin := n.in[0].shape[0]
	k, err := e.weight(n, "kernel", cin, o.units)
	if err != nil {
		return "", err
	}
	name := n.layer.Name
	inputs := []string{in[0], e.b.Float(name+"/W", []int64{int64(cin), int64(o.units)}, k.Data)}
	if o.bias {
		b, err := e.weight(n, "bias", o.units)
		if err != nil {
			return "", err
		}
		inputs = append(inputs, e.b.Float(name+"/B", []int64{int64(o.units)}, b.Data))
	}
	x := e.b.Op("Gemm", name, inputs)
	return e.activate(x, o.act, name), nil
}
