// Package onnx holds the ONNX protobuf messages (onnx.pb.go, generated from
// onnx.proto by generate.sh) and a small builder for the graphs winnow writes
// itself: float32 initializers, nodes with attributes, and float inputs and
// outputs whose batch dimension is symbolic.
package onnx

//go:generate ./generate.sh

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"
)

// Batch in a shape passed to Builder.Input or Builder.Output stands for the
// symbolic dimension named "batch".
const Batch = -1

// Builder assembles one graph. Names are the caller's business except for
// Fresh, which hands out names that are unique within the builder.
type Builder struct {
	g     *GraphProto
	used  map[string]bool
	fresh map[string]int
}

// NewBuilder starts an empty graph with the given name.
func NewBuilder(name string) *Builder {
	return &Builder{g: &GraphProto{Name: proto.String(name)}, used: map[string]bool{}, fresh: map[string]int{}}
}

// Fresh returns prefix, or prefix_N, whichever is not yet taken; and takes it.
func (b *Builder) Fresh(prefix string) string {
	name := prefix
	for b.used[name] {
		b.fresh[prefix]++
		name = fmt.Sprintf("%s_%d", prefix, b.fresh[prefix])
	}
	b.used[name] = true
	return name
}

// Reserve marks name as taken, so Fresh never returns it.
func (b *Builder) Reserve(name string) { b.used[name] = true }

// Input declares a float32 graph input; Batch in shape becomes a symbolic dimension.
func (b *Builder) Input(name string, shape ...int64) {
	b.Reserve(name)
	b.g.Input = append(b.g.Input, floatValueInfo(name, shape))
}

// Output declares a float32 graph output; a nil shape leaves it unspecified.
func (b *Builder) Output(name string, shape ...int64) {
	b.g.Output = append(b.g.Output, floatValueInfo(name, shape))
}

func floatValueInfo(name string, shape []int64) *ValueInfoProto {
	tt := &TypeProto_Tensor{ElemType: proto.Int32(int32(TensorProto_FLOAT))}
	if shape != nil {
		tt.Shape = &TensorShapeProto{}
		for _, d := range shape {
			dim := &TensorShapeProto_Dimension{}
			if d < 0 {
				dim.Value = &TensorShapeProto_Dimension_DimParam{DimParam: "batch"}
			} else {
				dim.Value = &TensorShapeProto_Dimension_DimValue{DimValue: d}
			}
			tt.Shape.Dim = append(tt.Shape.Dim, dim)
		}
	}
	return &ValueInfoProto{
		Name: proto.String(name),
		Type: &TypeProto{Value: &TypeProto_TensorType{TensorType: tt}},
	}
}

// Float adds a float32 initializer with a fresh name derived from name and
// returns that name. data is copied, in C order; len(data) must be the
// product of shape (1 for a scalar, shape nil).
func (b *Builder) Float(name string, shape []int64, data []float32) string {
	if n := numel(shape); n != len(data) {
		panic(fmt.Sprintf("onnx: initializer %s: %d values for shape %v", name, len(data), shape))
	}
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return b.initializer(name, TensorProto_FLOAT, shape, raw)
}

// Int64 adds an int64 initializer (shapes, pads, axes) and returns its name.
func (b *Builder) Int64(name string, shape []int64, data []int64) string {
	if n := numel(shape); n != len(data) {
		panic(fmt.Sprintf("onnx: initializer %s: %d values for shape %v", name, len(data), shape))
	}
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return b.initializer(name, TensorProto_INT64, shape, raw)
}

func (b *Builder) initializer(name string, dt TensorProto_DataType, shape []int64, raw []byte) string {
	name = b.Fresh(name)
	b.g.Initializer = append(b.g.Initializer, &TensorProto{
		Name:     proto.String(name),
		DataType: proto.Int32(int32(dt)),
		Dims:     append([]int64(nil), shape...),
		RawData:  raw,
	})
	return name
}

func numel(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

// Node appends a node. Its name is made unique from the op type and outputs[0].
func (b *Builder) Node(op string, inputs, outputs []string, attrs ...*AttributeProto) {
	for _, o := range outputs {
		b.Reserve(o)
	}
	name := op
	if len(outputs) > 0 {
		name = outputs[0] + "/" + op
	}
	b.g.Node = append(b.g.Node, &NodeProto{
		Name:      proto.String(b.Fresh(name)),
		OpType:    proto.String(op),
		Input:     inputs,
		Output:    outputs,
		Attribute: attrs,
	})
}

// Op appends a one-output node whose output gets a fresh name derived from
// out, and returns that name.
func (b *Builder) Op(op, out string, inputs []string, attrs ...*AttributeProto) string {
	out = b.Fresh(out)
	b.Node(op, inputs, []string{out}, attrs...)
	return out
}

// Int is an integer attribute.
func Int(name string, v int64) *AttributeProto {
	return &AttributeProto{Name: proto.String(name), Type: AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

// Ints is an integer-list attribute.
func Ints(name string, v ...int64) *AttributeProto {
	return &AttributeProto{Name: proto.String(name), Type: AttributeProto_INTS.Enum(), Ints: v}
}

// Flt is a float attribute.
func Flt(name string, v float32) *AttributeProto {
	return &AttributeProto{Name: proto.String(name), Type: AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

// Str is a string attribute.
func Str(name, v string) *AttributeProto {
	return &AttributeProto{Name: proto.String(name), Type: AttributeProto_STRING.Enum(), S: []byte(v)}
}

// Graph is the graph built so far.
func (b *Builder) Graph() *GraphProto { return b.g }

// Model wraps the graph in a model of IR version 8 that imports the default
// ONNX domain at the given opset.
func (b *Builder) Model(opset int64, producer, version string) *ModelProto {
	return &ModelProto{
		IrVersion:       proto.Int64(int64(Version_IR_VERSION)),
		OpsetImport:     []*OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}},
		ProducerName:    proto.String(producer),
		ProducerVersion: proto.String(version),
		Graph:           b.g,
	}
}

// Marshal serialises a model. Deterministic, so the same conversion always
// gives the same bytes and hence the same sha256 (winnow's backbone identity).
func Marshal(m *ModelProto) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}
