package tfjs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Shape is a Keras tensor shape without the batch dimension: [H, W, C] for
// images (channels_last), [C] for vectors.
type Shape []int

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "x")
}

func (s Shape) numel() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// op is one supported Keras layer, its config checked and parsed. Image
// tensors (Keras rank 3, NHWC) live in the ONNX graph as NCHW; vectors as
// [N, C].
type op interface {
	outShape(in []Shape) (Shape, error)
	emit(e *emitter, n *node, in []string) (string, error)
}

// pair reads Keras' int-or-[int,int] options such as kernel_size.
type pair [2]int

func (p *pair) UnmarshalJSON(b []byte) error {
	var one int
	if err := json.Unmarshal(b, &one); err == nil {
		*p = pair{one, one}
		return nil
	}
	var two []int
	if err := json.Unmarshal(b, &two); err != nil || len(two) != 2 {
		return fmt.Errorf("want an integer or two, got %s", b)
	}
	*p = pair{two[0], two[1]}
	return nil
}

// parseConfig decodes a layer's config into dst, reporting the layer.
func parseConfig(l *Layer, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(l.Config))
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("layer %s (%s): config: %w", l.Name, l.Class, err)
	}
	return nil
}

// optionError names the layer, the option and its value.
func optionError(l *Layer, option string, value any, why string) error {
	return fmt.Errorf("layer %s (%s): %s=%v is not supported: %s", l.Name, l.Class, option, value, why)
}

func checkDataFormat(l *Layer, df string) error {
	if df != "" && df != "channels_last" {
		return optionError(l, "data_format", df, "only channels_last")
	}
	return nil
}

var activations = map[string]bool{"linear": true, "relu": true, "relu6": true, "softmax": true, "sigmoid": true, "tanh": true}

func checkActivation(l *Layer, act *string) (string, error) {
	if act == nil || *act == "" {
		return "linear", nil
	}
	if !activations[*act] {
		return "", optionError(l, "activation", *act, "supported: linear, relu, relu6, softmax, sigmoid, tanh")
	}
	return *act, nil
}

// parseLayer checks a layer's class and every option that changes its
// output, so that anything not converted exactly is an error naming it.
func parseLayer(l *Layer) (op, error) {
	switch l.Class {
	case "InputLayer":
		return parseInput(l)
	case "Conv2D":
		return parseConv(l, false)
	case "DepthwiseConv2D":
		return parseConv(l, true)
	case "BatchNormalization":
		return parseBatchNorm(l)
	case "ReLU":
		return parseReLU(l)
	case "Activation":
		var c struct{ Activation *string }
		if err := parseConfig(l, &c); err != nil {
			return nil, err
		}
		if c.Activation == nil {
			return nil, fmt.Errorf("layer %s (Activation): no activation in config", l.Name)
		}
		act, err := checkActivation(l, c.Activation)
		return activationOp{act}, err
	case "ZeroPadding2D":
		return parseZeroPadding(l)
	case "Add":
		return addOp{}, nil
	case "Concatenate":
		c := struct{ Axis *int }{}
		if err := parseConfig(l, &c); err != nil {
			return nil, err
		}
		axis := -1
		if c.Axis != nil {
			axis = *c.Axis
		}
		return concatOp{axis}, nil
	case "MaxPooling2D", "AveragePooling2D":
		return parsePool(l)
	case "GlobalAveragePooling2D":
		var c struct {
			DataFormat string `json:"data_format"`
			Keepdims   bool   `json:"keepdims"`
		}
		if err := parseConfig(l, &c); err != nil {
			return nil, err
		}
		if err := checkDataFormat(l, c.DataFormat); err != nil {
			return nil, err
		}
		return gapOp{c.Keepdims}, nil
	case "Flatten":
		var c struct {
			DataFormat string `json:"data_format"`
		}
		if err := parseConfig(l, &c); err != nil {
			return nil, err
		}
		if err := checkDataFormat(l, c.DataFormat); err != nil {
			return nil, err
		}
		return flattenOp{}, nil
	case "Dense":
		var c struct {
			Units      int
			Activation *string
			UseBias    *bool `json:"use_bias"`
		}
		if err := parseConfig(l, &c); err != nil {
			return nil, err
		}
		act, err := checkActivation(l, c.Activation)
		if err != nil {
			return nil, err
		}
		if c.Units <= 0 {
			return nil, optionError(l, "units", c.Units, "must be positive")
		}
		return denseOp{units: c.Units, act: act, bias: c.UseBias == nil || *c.UseBias}, nil
	case "Dropout":
		return identityOp{}, nil
	default:
		return nil, fmt.Errorf("layer %s: layer type %s is not supported", l.Name, l.Class)
	}
}

// MaxInputSide bounds the input image's height and width: every layer's
// activations scale with them, and a backbone's input is a few hundred
// pixels wide.
const MaxInputSide = 8192

type inputOp struct{ shape Shape }

func parseInput(l *Layer) (op, error) {
	var c struct {
		BatchInputShape []*int `json:"batch_input_shape"`
		BatchShape      []*int `json:"batch_shape"`
		Dtype           string
		Sparse          bool
	}
	if err := parseConfig(l, &c); err != nil {
		return nil, err
	}
	bs := c.BatchInputShape
	if bs == nil {
		bs = c.BatchShape
	}
	if c.Dtype != "" && c.Dtype != "float32" {
		return nil, optionError(l, "dtype", c.Dtype, "float32 inputs only")
	}
	if c.Sparse {
		return nil, optionError(l, "sparse", true, "dense inputs only")
	}
	if len(bs) != 4 {
		return nil, optionError(l, "batch_input_shape", fmtShape(bs), "an image input [batch, height, width, channels] is needed")
	}
	var s Shape
	for i, d := range bs[1:] {
		if d == nil || *d <= 0 {
			return nil, optionError(l, "batch_input_shape", fmtShape(bs), "height, width and channels must be fixed")
		}
		if max := [3]int{MaxInputSide, MaxInputSide, 4}[i]; *d > max {
			return nil, optionError(l, "batch_input_shape", fmtShape(bs),
				fmt.Sprintf("height and width must be at most %d, channels at most 4", MaxInputSide))
		}
		s = append(s, *d)
	}
	return inputOp{s}, nil
}

func fmtShape(s []*int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		if d == nil {
			parts[i] = "null"
		} else {
			parts[i] = fmt.Sprint(*d)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func (o inputOp) outShape([]Shape) (Shape, error) { return o.shape, nil }

type convOp struct {
	depthwise bool
	filters   int // Conv2D
	mult      int // DepthwiseConv2D
	kernel    pair
	strides   pair
	dilation  pair
	padding   string
	act       string
	bias      bool
}

func parseConv(l *Layer, depthwise bool) (op, error) {
	var c struct {
		Filters         int
		KernelSize      *pair   `json:"kernel_size"`
		Strides         *pair   `json:"strides"`
		Padding         string  `json:"padding"`
		DataFormat      string  `json:"data_format"`
		DilationRate    *pair   `json:"dilation_rate"`
		Groups          *int    `json:"groups"`
		Activation      *string `json:"activation"`
		UseBias         *bool   `json:"use_bias"`
		DepthMultiplier *int    `json:"depth_multiplier"`
	}
	if err := parseConfig(l, &c); err != nil {
		return nil, err
	}
	o := convOp{depthwise: depthwise, filters: c.Filters, strides: pair{1, 1}, dilation: pair{1, 1}, padding: c.Padding, bias: c.UseBias == nil || *c.UseBias, mult: 1}
	if c.KernelSize == nil {
		return nil, fmt.Errorf("layer %s (%s): no kernel_size", l.Name, l.Class)
	}
	o.kernel = *c.KernelSize
	if c.Strides != nil {
		o.strides = *c.Strides
	}
	if c.DilationRate != nil {
		o.dilation = *c.DilationRate
	}
	if err := checkDataFormat(l, c.DataFormat); err != nil {
		return nil, err
	}
	if o.padding != "same" && o.padding != "valid" {
		return nil, optionError(l, "padding", o.padding, "only same and valid")
	}
	if c.Groups != nil && *c.Groups != 1 {
		return nil, optionError(l, "groups", *c.Groups, "only 1")
	}
	if (o.dilation[0] != 1 || o.dilation[1] != 1) && (o.strides[0] != 1 || o.strides[1] != 1) {
		return nil, optionError(l, "dilation_rate", o.dilation, "dilation together with strides > 1 is not allowed by Keras")
	}
	for _, v := range []int{o.kernel[0], o.kernel[1], o.strides[0], o.strides[1], o.dilation[0], o.dilation[1]} {
		if v <= 0 {
			return nil, fmt.Errorf("layer %s (%s): kernel_size, strides and dilation_rate must be positive", l.Name, l.Class)
		}
	}
	if depthwise {
		if c.DepthMultiplier != nil {
			o.mult = *c.DepthMultiplier
		}
		if o.mult <= 0 {
			return nil, optionError(l, "depth_multiplier", o.mult, "must be positive")
		}
	} else if o.filters <= 0 {
		return nil, optionError(l, "filters", o.filters, "must be positive")
	}
	act, err := checkActivation(l, c.Activation)
	if err != nil {
		return nil, err
	}
	o.act = act
	return o, nil
}

func (o convOp) outShape(in []Shape) (Shape, error) {
	if len(in) != 1 || len(in[0]) != 3 {
		return nil, fmt.Errorf("needs one image input, got %v", in)
	}
	h, _, _, err := tfPads(in[0][0], o.kernel[0], o.strides[0], o.dilation[0], o.padding)
	if err != nil {
		return nil, err
	}
	w, _, _, err := tfPads(in[0][1], o.kernel[1], o.strides[1], o.dilation[1], o.padding)
	if err != nil {
		return nil, err
	}
	c := o.filters
	if o.depthwise {
		c = in[0][2] * o.mult
	}
	return Shape{h, w, c}, nil
}

type batchNormOp struct {
	axis          int
	eps           float64
	center, scale bool
}

func parseBatchNorm(l *Layer) (op, error) {
	var c struct {
		Axis    json.RawMessage
		Epsilon *float64
		Center  *bool
		Scale   *bool
	}
	if err := parseConfig(l, &c); err != nil {
		return nil, err
	}
	o := batchNormOp{axis: -1, eps: 1e-3, center: c.Center == nil || *c.Center, scale: c.Scale == nil || *c.Scale}
	if len(c.Axis) > 0 {
		var axes []int
		if err := json.Unmarshal(c.Axis, &o.axis); err != nil {
			if err := json.Unmarshal(c.Axis, &axes); err != nil || len(axes) != 1 {
				return nil, optionError(l, "axis", string(c.Axis), "a single axis only")
			}
			o.axis = axes[0]
		}
	}
	if c.Epsilon != nil {
		o.eps = *c.Epsilon
	}
	return o, nil
}

func (o batchNormOp) outShape(in []Shape) (Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("needs one input")
	}
	if r := len(in[0]); o.axis != -1 && o.axis != r {
		return nil, fmt.Errorf("axis=%d is not supported: only the channel axis (-1 or %d) for a rank %d input", o.axis, r, r+1)
	}
	return in[0], nil
}

type reluOp struct{ max *float64 }

func parseReLU(l *Layer) (op, error) {
	var c struct {
		MaxValue      *float64 `json:"max_value"`
		NegativeSlope *float64 `json:"negative_slope"`
		Threshold     *float64 `json:"threshold"`
	}
	if err := parseConfig(l, &c); err != nil {
		return nil, err
	}
	if c.NegativeSlope != nil && *c.NegativeSlope != 0 {
		return nil, optionError(l, "negative_slope", *c.NegativeSlope, "only 0")
	}
	if c.Threshold != nil && *c.Threshold != 0 {
		return nil, optionError(l, "threshold", *c.Threshold, "only 0")
	}
	if c.MaxValue != nil && *c.MaxValue < 0 {
		return nil, optionError(l, "max_value", *c.MaxValue, "must be >= 0")
	}
	return reluOp{c.MaxValue}, nil
}

func sameShape(in []Shape) (Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("needs one input, got %d", len(in))
	}
	return in[0], nil
}

func (reluOp) outShape(in []Shape) (Shape, error)       { return sameShape(in) }
func (activationOp) outShape(in []Shape) (Shape, error) { return sameShape(in) }
func (identityOp) outShape(in []Shape) (Shape, error)   { return sameShape(in) }

type activationOp struct{ act string }
type identityOp struct{}

type zeroPadOp struct{ top, bottom, left, right int }

func parseZeroPadding(l *Layer) (op, error) {
	var c struct {
		Padding    json.RawMessage
		DataFormat string `json:"data_format"`
	}
	if err := parseConfig(l, &c); err != nil {
		return nil, err
	}
	if err := checkDataFormat(l, c.DataFormat); err != nil {
		return nil, err
	}
	var one int
	var sym []int
	var full [][]int
	switch {
	case len(c.Padding) == 0:
		return zeroPadOp{1, 1, 1, 1}, nil // Keras' default
	case json.Unmarshal(c.Padding, &one) == nil:
		return zeroPadOp{one, one, one, one}, nil
	case json.Unmarshal(c.Padding, &sym) == nil && len(sym) == 2:
		return zeroPadOp{sym[0], sym[0], sym[1], sym[1]}, nil
	case json.Unmarshal(c.Padding, &full) == nil && len(full) == 2 && len(full[0]) == 2 && len(full[1]) == 2:
		return zeroPadOp{full[0][0], full[0][1], full[1][0], full[1][1]}, nil
	}
	return nil, optionError(l, "padding", string(c.Padding), "want n, [h, w] or [[top, bottom], [left, right]]")
}

func (o zeroPadOp) outShape(in []Shape) (Shape, error) {
	if len(in) != 1 || len(in[0]) != 3 {
		return nil, fmt.Errorf("needs one image input, got %v", in)
	}
	if o.top < 0 || o.bottom < 0 || o.left < 0 || o.right < 0 {
		return nil, fmt.Errorf("negative padding")
	}
	return Shape{in[0][0] + o.top + o.bottom, in[0][1] + o.left + o.right, in[0][2]}, nil
}

type addOp struct{}

func (addOp) outShape(in []Shape) (Shape, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("needs two or more inputs, got %d", len(in))
	}
	for _, s := range in[1:] {
		if s.String() != in[0].String() {
			return nil, fmt.Errorf("inputs of different shapes %v (broadcasting is not supported)", in)
		}
	}
	return in[0], nil
}

type concatOp struct{ axis int }

func (o concatOp) outShape(in []Shape) (Shape, error) {
	if len(in) < 1 {
		return nil, fmt.Errorf("needs inputs")
	}
	r := len(in[0])
	axis := o.axis
	if axis < 0 {
		axis += r + 1
	}
	if axis < 1 || axis > r {
		return nil, fmt.Errorf("axis=%d is out of range for rank %d inputs", o.axis, r+1)
	}
	out := append(Shape(nil), in[0]...)
	out[axis-1] = 0
	for _, s := range in {
		if len(s) != r {
			return nil, fmt.Errorf("inputs of different ranks %v", in)
		}
		for i := range s {
			if i != axis-1 && s[i] != in[0][i] {
				return nil, fmt.Errorf("inputs %v differ off the concatenation axis", in)
			}
		}
		out[axis-1] += s[axis-1]
	}
	return out, nil
}

// onnxAxis maps a Keras axis (counting the batch) of a rank-r Keras shape
// to the axis of the tensor as it lives in the ONNX graph.
func onnxAxis(kerasAxis, r int) int {
	if kerasAxis < 0 {
		kerasAxis += r + 1
	}
	if r == 3 { // NHWC -> NCHW
		return [...]int{0, 2, 3, 1}[kerasAxis]
	}
	return kerasAxis
}

type poolOp struct {
	max     bool
	size    pair
	strides pair
	padding string
}

func parsePool(l *Layer) (op, error) {
	var c struct {
		PoolSize   *pair  `json:"pool_size"`
		Strides    *pair  `json:"strides"`
		Padding    string `json:"padding"`
		DataFormat string `json:"data_format"`
	}
	if err := parseConfig(l, &c); err != nil {
		return nil, err
	}
	if err := checkDataFormat(l, c.DataFormat); err != nil {
		return nil, err
	}
	o := poolOp{max: l.Class == "MaxPooling2D", size: pair{2, 2}, padding: c.Padding}
	if c.PoolSize != nil {
		o.size = *c.PoolSize
	}
	o.strides = o.size // Keras: strides=None means pool_size
	if c.Strides != nil {
		o.strides = *c.Strides
	}
	if o.padding == "" {
		o.padding = "valid"
	}
	if o.padding != "same" && o.padding != "valid" {
		return nil, optionError(l, "padding", o.padding, "only same and valid")
	}
	if o.size[0] <= 0 || o.size[1] <= 0 || o.strides[0] <= 0 || o.strides[1] <= 0 {
		return nil, fmt.Errorf("layer %s (%s): pool_size and strides must be positive", l.Name, l.Class)
	}
	return o, nil
}

func (o poolOp) outShape(in []Shape) (Shape, error) {
	if len(in) != 1 || len(in[0]) != 3 {
		return nil, fmt.Errorf("needs one image input, got %v", in)
	}
	h, _, _, err := tfPads(in[0][0], o.size[0], o.strides[0], 1, o.padding)
	if err != nil {
		return nil, err
	}
	w, _, _, err := tfPads(in[0][1], o.size[1], o.strides[1], 1, o.padding)
	if err != nil {
		return nil, err
	}
	return Shape{h, w, in[0][2]}, nil
}

type gapOp struct{ keepdims bool }

func (o gapOp) outShape(in []Shape) (Shape, error) {
	if len(in) != 1 || len(in[0]) != 3 {
		return nil, fmt.Errorf("needs one image input, got %v", in)
	}
	if o.keepdims {
		return Shape{1, 1, in[0][2]}, nil
	}
	return Shape{in[0][2]}, nil
}

type flattenOp struct{}

func (flattenOp) outShape(in []Shape) (Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("needs one input")
	}
	return Shape{in[0].numel()}, nil
}

type denseOp struct {
	units int
	act   string
	bias  bool
}

func (o denseOp) outShape(in []Shape) (Shape, error) {
	if len(in) != 1 || len(in[0]) != 1 {
		return nil, fmt.Errorf("needs one vector input (flatten first), got %v", in)
	}
	return Shape{o.units}, nil
}

// tfPads is TensorFlow's output size and padding along one spatial axis
// (tensorflow/core/framework/kernel_shape_util.cc, GetWindowedOutputSize):
// for SAME, out = ceil(in/stride) and the total padding needed is split with
// the odd pixel at the end (bottom/right); VALID never pads.
func tfPads(in, k, stride, dilation int, padding string) (out, before, after int, err error) {
	eff := (k-1)*dilation + 1
	switch padding {
	case "same":
		out = (in + stride - 1) / stride
		total := max((out-1)*stride+eff-in, 0)
		return out, total / 2, total - total/2, nil
	case "valid":
		if in < eff {
			return 0, 0, 0, fmt.Errorf("window %d (dilated) is larger than the input %d", eff, in)
		}
		return (in-eff)/stride + 1, 0, 0, nil
	}
	return 0, 0, 0, fmt.Errorf("padding %q", padding)
}
