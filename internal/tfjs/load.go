// Package tfjs imports TensorFlow.js layers models (Keras models saved by
// tfjs-converter: a model.json plus binary weight shards) and converts them to
// ONNX graphs that winnow's backbone package can run.
//
// It also reads the .min.js wrapping in which the npm package nsfwjs ships its
// models (model.min.js + group1-shardKofN.min.js), so that the Keras
// MobileNetV2 and InceptionV3 inside it can serve as built-in backbones.
package tfjs

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// MaxWeightElements bounds one weight tensor (1 GiB of float32): far above
// any convolutional backbone's largest kernel, far below what a hostile
// manifest could ask for.
const MaxWeightElements = 1 << 28

// Model is a Keras functional model read from a TF.js layers model.
type Model struct {
	Name         string
	KerasVersion string
	Layers       []*Layer // in the file's order, which Keras writes topologically
	Inputs       []string // input layer names
	Outputs      []string // output layer names
	Weights      map[string]*Tensor
	Source       string // what Load was given
}

// Layer is one Keras layer with its raw config.
type Layer struct {
	Name    string
	Class   string
	Config  json.RawMessage
	Inbound []string // names of the layers feeding it, in order
}

// Tensor is a dequantised weight in TF layout (C order).
type Tensor struct {
	Shape []int
	Data  []float32
}

// Load reads a TF.js layers model from src: a model.json file, a model.min.js
// file, or a folder holding one of them. Weight shards are looked for beside
// it under the names the manifest gives (with .min.js appended for the
// wrapped form).
func Load(src string) (*Model, error) { return LoadContext(context.Background(), src) }

// LoadContext is Load, stopping between weights when ctx ends.
func LoadContext(ctx context.Context, src string) (*Model, error) {
	path, wrapped, err := locate(src)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if wrapped {
		body, err := unwrapBundle(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if raw, err = jsToJSON(body); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	var mj modelJSON
	if err := json.Unmarshal(raw, &mj); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m, err := parseTopology(&mj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.Source = src
	dir := filepath.Dir(path)
	m.Weights = map[string]*Tensor{}
	for gi, group := range mj.WeightsManifest {
		var buf []byte
		for _, p := range group.Paths {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			shard, err := readShard(dir, p, wrapped)
			if err != nil {
				return nil, err
			}
			buf = append(buf, shard...)
		}
		if err := decodeWeights(ctx, group.Weights, buf, m.Weights); err != nil {
			return nil, fmt.Errorf("%s: weight group %d: %w", path, gi, err)
		}
	}
	return m, nil
}

func locate(src string) (path string, wrapped bool, err error) {
	st, err := os.Stat(src)
	if err != nil {
		return "", false, err
	}
	if st.IsDir() {
		for _, name := range []string{"model.json", "model.min.js"} {
			p := filepath.Join(src, name)
			if _, err := os.Stat(p); err == nil {
				return p, name == "model.min.js", nil
			}
		}
		return "", false, fmt.Errorf("%s: no model.json or model.min.js in this folder", src)
	}
	return src, strings.HasSuffix(src, ".js"), nil
}

func readShard(dir, name string, wrapped bool) ([]byte, error) {
	if filepath.IsAbs(name) || strings.Contains(filepath.ToSlash(name), "../") || strings.Contains(name, "://") {
		return nil, fmt.Errorf("weight shard path %q: only files beside the model are read", name)
	}
	p := filepath.Join(dir, filepath.FromSlash(name))
	if !wrapped {
		return os.ReadFile(p)
	}
	raw, err := os.ReadFile(p + ".min.js")
	if err != nil {
		return nil, err
	}
	body, err := unwrapBundle(raw)
	if err != nil {
		return nil, fmt.Errorf("%s.min.js: %w", p, err)
	}
	s, err := jsString(body)
	if err != nil {
		return nil, fmt.Errorf("%s.min.js: %w", p, err)
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s.min.js: weight shard is not base64: %w", p, err)
	}
	return data, nil
}

type modelJSON struct {
	Format          string          `json:"format"`
	ModelTopology   json.RawMessage `json:"modelTopology"`
	WeightsManifest []struct {
		Paths   []string     `json:"paths"`
		Weights []weightSpec `json:"weights"`
	} `json:"weightsManifest"`
}

type weightSpec struct {
	Name         string `json:"name"`
	Shape        []int  `json:"shape"`
	Dtype        string `json:"dtype"`
	Quantization *struct {
		Dtype string   `json:"dtype"`
		Min   *float64 `json:"min"`
		Scale *float64 `json:"scale"`
	} `json:"quantization"`
}

type kerasModel struct {
	ClassName string          `json:"class_name"`
	Config    json.RawMessage `json:"config"`
}

type functionalConfig struct {
	Name   string `json:"name"`
	Layers []struct {
		Name         string          `json:"name"`
		ClassName    string          `json:"class_name"`
		Config       json.RawMessage `json:"config"`
		InboundNodes json.RawMessage `json:"inbound_nodes"`
	} `json:"layers"`
	InputLayers  [][]any `json:"input_layers"`
	OutputLayers [][]any `json:"output_layers"`
}

func parseTopology(mj *modelJSON) (*Model, error) {
	if mj.Format == "graph-model" {
		return nil, errors.New("this is a TF.js graph model (a TensorFlow GraphDef); only layers models (Keras) are supported")
	}
	if len(mj.ModelTopology) == 0 {
		return nil, errors.New("no modelTopology")
	}
	var top struct {
		KerasVersion string          `json:"keras_version"`
		ModelConfig  json.RawMessage `json:"model_config"`
		Node         json.RawMessage `json:"node"`
	}
	if err := json.Unmarshal(mj.ModelTopology, &top); err != nil {
		return nil, fmt.Errorf("modelTopology: %w", err)
	}
	if len(top.Node) > 0 {
		return nil, errors.New("this is a TF.js graph model (a TensorFlow GraphDef); only layers models (Keras) are supported")
	}
	// tfjs-layers accepts the Keras model either under model_config or as
	// the topology itself.
	cfg := top.ModelConfig
	if len(cfg) == 0 {
		cfg = mj.ModelTopology
	}
	var km kerasModel
	if err := json.Unmarshal(cfg, &km); err != nil {
		return nil, fmt.Errorf("model_config: %w", err)
	}
	m := &Model{KerasVersion: top.KerasVersion}
	switch km.ClassName {
	case "Model", "Functional":
		return m, m.parseFunctional(km.Config)
	case "Sequential":
		return m, m.parseSequential(km.Config)
	default:
		return nil, fmt.Errorf("model class %q: only Keras functional (Model) and Sequential models are supported", km.ClassName)
	}
}

func (m *Model) parseFunctional(raw json.RawMessage) error {
	var fc functionalConfig
	if err := json.Unmarshal(raw, &fc); err != nil {
		return fmt.Errorf("model config: %w", err)
	}
	m.Name = fc.Name
	for _, l := range fc.Layers {
		layer := &Layer{Name: l.Name, Class: l.ClassName, Config: l.Config}
		in, err := parseInbound(l.InboundNodes)
		if err != nil {
			return fmt.Errorf("layer %s (%s): %w", l.Name, l.ClassName, err)
		}
		layer.Inbound = in
		m.Layers = append(m.Layers, layer)
	}
	var err error
	if m.Inputs, err = endpointNames("input_layers", fc.InputLayers); err != nil {
		return err
	}
	if m.Outputs, err = endpointNames("output_layers", fc.OutputLayers); err != nil {
		return err
	}
	return nil
}

// parseInbound reads Keras 2 inbound_nodes: [[[layer, node_index,
// tensor_index, kwargs], ...]]. A layer called more than once (shared
// weights) or a source layer with several outputs is not supported.
func parseInbound(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var nodes [][][]any
	if err := json.Unmarshal(raw, &nodes); err != nil {
		return nil, fmt.Errorf("inbound_nodes in an unknown format (Keras 2 [[[layer, node, tensor, kwargs]]] expected): %w", err)
	}
	if len(nodes) == 0 {
		return nil, nil
	}
	if len(nodes) > 1 {
		return nil, fmt.Errorf("the layer is applied %d times (shared layers are not supported)", len(nodes))
	}
	var names []string
	for _, ref := range nodes[0] {
		name, err := refName(ref)
		if err != nil {
			return nil, fmt.Errorf("inbound_nodes: %w", err)
		}
		if len(ref) > 3 {
			if kw, ok := ref[3].(map[string]any); ok && len(kw) > 0 {
				return nil, fmt.Errorf("inbound_nodes: call arguments %v are not supported", kw)
			}
		}
		names = append(names, name)
	}
	return names, nil
}

func refName(ref []any) (string, error) {
	if len(ref) < 3 {
		return "", fmt.Errorf("bad layer reference %v", ref)
	}
	name, ok := ref[0].(string)
	if !ok {
		return "", fmt.Errorf("bad layer reference %v", ref)
	}
	if ref[1] != 0.0 || ref[2] != 0.0 {
		return "", fmt.Errorf("reference %v to node %v, tensor %v of %s: only a layer's first node and tensor are supported", ref, ref[1], ref[2], name)
	}
	return name, nil
}

func endpointNames(what string, refs [][]any) ([]string, error) {
	var names []string
	for _, r := range refs {
		n, err := refName(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("model has no %s", what)
	}
	return names, nil
}

// parseSequential turns a Sequential model into the equivalent chain of
// layers, with an InputLayer made from the first layer's batch_input_shape.
func (m *Model) parseSequential(raw json.RawMessage) error {
	type seqLayer struct {
		ClassName string          `json:"class_name"`
		Config    json.RawMessage `json:"config"`
	}
	var sc struct {
		Name   string     `json:"name"`
		Layers []seqLayer `json:"layers"`
	}
	if err := json.Unmarshal(raw, &sc); err != nil {
		// Keras < 2.2.3 wrote the layer list as the config itself.
		var list []seqLayer
		if err2 := json.Unmarshal(raw, &list); err2 != nil {
			return fmt.Errorf("Sequential config: %w", err)
		}
		sc.Layers = list
	}
	if len(sc.Layers) == 0 {
		return errors.New("Sequential model without layers")
	}
	m.Name = sc.Name
	prev := ""
	for i, l := range sc.Layers {
		var c struct {
			Name            string `json:"name"`
			BatchInputShape []*int `json:"batch_input_shape"`
		}
		if err := json.Unmarshal(l.Config, &c); err != nil {
			return fmt.Errorf("Sequential layer %d: %w", i, err)
		}
		if c.Name == "" {
			return fmt.Errorf("Sequential layer %d (%s) has no name", i, l.ClassName)
		}
		if i == 0 && l.ClassName != "InputLayer" {
			if c.BatchInputShape == nil {
				return fmt.Errorf("Sequential layer %s: the first layer has no batch_input_shape", c.Name)
			}
			cfg, _ := json.Marshal(map[string]any{"name": c.Name + "_input", "batch_input_shape": c.BatchInputShape, "dtype": "float32"})
			m.Layers = append(m.Layers, &Layer{Name: c.Name + "_input", Class: "InputLayer", Config: cfg})
			prev = c.Name + "_input"
		}
		layer := &Layer{Name: c.Name, Class: l.ClassName, Config: l.Config}
		if prev != "" {
			layer.Inbound = []string{prev}
		}
		m.Layers = append(m.Layers, layer)
		prev = c.Name
	}
	m.Inputs = []string{m.Layers[0].Name}
	m.Outputs = []string{prev}
	return nil
}

// decodeWeights cuts the concatenated shard bytes into tensors, in manifest
// order, dequantising as tfjs-core's io_utils does.
func decodeWeights(ctx context.Context, specs []weightSpec, buf []byte, dst map[string]*Tensor) error {
	off := 0
	for _, ws := range specs {
		if err := ctx.Err(); err != nil {
			return err
		}
		// The element count is checked against a cap as it is multiplied,
		// so a shape like [100000,100000,100000,100000] is refused before
		// it can overflow or reach make().
		n := 1
		for _, d := range ws.Shape {
			if d < 0 {
				return fmt.Errorf("weight %s: bad shape %v", ws.Name, ws.Shape)
			}
			if d > 0 && n > MaxWeightElements/d {
				return fmt.Errorf("weight %s: shape %v has more than %d elements", ws.Name, ws.Shape, MaxWeightElements)
			}
			n *= d
		}
		if ws.Dtype != "float32" {
			return fmt.Errorf("weight %s: dtype %q is not supported (float32 only)", ws.Name, ws.Dtype)
		}
		var size int
		var decode func([]byte, []float32) error
		if q := ws.Quantization; q != nil {
			switch q.Dtype {
			case "uint8", "uint16":
				if q.Min == nil || q.Scale == nil {
					return fmt.Errorf("weight %s: %s quantization without min and scale", ws.Name, q.Dtype)
				}
				bits := 8
				if q.Dtype == "uint16" {
					bits = 16
				}
				size = n * bits / 8
				scale, lo := *q.Scale, *q.Min
				decode = func(b []byte, out []float32) error { dequantize(b, bits, scale, lo, out); return nil }
			case "float16":
				size = 2 * n
				decode = func(b []byte, out []float32) error { decodeFloat16(b, out); return nil }
			default:
				return fmt.Errorf("weight %s: quantization dtype %q is not supported", ws.Name, q.Dtype)
			}
		} else {
			size = 4 * n
			decode = func(b []byte, out []float32) error {
				for i := range out {
					out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
				}
				return nil
			}
		}
		if size > len(buf)-off {
			return fmt.Errorf("weight %s: needs bytes %d..%d but the shards hold %d", ws.Name, off, off+size, len(buf))
		}
		t := &Tensor{Shape: append([]int(nil), ws.Shape...), Data: make([]float32, n)}
		if err := decode(buf[off:off+size], t.Data); err != nil {
			return err
		}
		if _, dup := dst[ws.Name]; dup {
			return fmt.Errorf("weight %s appears twice in the manifest", ws.Name)
		}
		dst[ws.Name] = t
		off += size
	}
	if off != len(buf) {
		return fmt.Errorf("the manifest describes %d bytes but the shards hold %d", off, len(buf))
	}
	return nil
}

// dequantize computes float = q*scale + min in float64 and rounds once to
// float32, which is what tfjs-core does in JavaScript. The explicit float64
// conversion keeps the compiler from fusing the two steps into an FMA, whose
// single rounding could differ in the last bit.
func dequantize(b []byte, bits int, scale, lo float64, out []float32) {
	for i := range out {
		var q float64
		if bits == 8 {
			q = float64(b[i])
		} else {
			q = float64(binary.LittleEndian.Uint16(b[2*i:]))
		}
		out[i] = float32(float64(q*scale) + lo)
	}
}

func decodeFloat16(b []byte, out []float32) {
	for i := range out {
		h := binary.LittleEndian.Uint16(b[2*i:])
		sign := uint32(h>>15) << 31
		exp := int(h>>10) & 0x1f
		frac := uint32(h & 0x3ff)
		var f uint32
		switch {
		case exp == 0 && frac == 0:
			f = sign
		case exp == 0: // subnormal: renormalise
			e := 0
			for frac&0x400 == 0 {
				frac <<= 1
				e--
			}
			f = sign | uint32(127-14+e)<<23 | (frac&0x3ff)<<13
		case exp == 0x1f:
			f = sign | 0xff<<23 | frac<<13
		default:
			f = sign | uint32(exp-15+127)<<23 | frac<<13
		}
		out[i] = math.Float32frombits(f)
	}
}
