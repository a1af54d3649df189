// Package export writes a trained classifier as one ONNX graph: the backbone,
// then the model's feature normalisation and linear head folded into one
// Gemm, then a softmax. Anything that runs ONNX (onnxruntime-node, -web,
// Python, mobile) can then classify images without winnow.
package export

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/onnx"
)

// ProbsName is the output holding the class probabilities.
const ProbsName = "probs"

// Classifier appends the head of m to the backbone graph and returns the
// serialised model and the sidecar spec describing it (the backbone's input
// spec, the features output, the probabilities output, the classes and the
// resize mode the features were made with).
func Classifier(backboneONNX []byte, spec backbone.Spec, m *linear.Model, resize string) ([]byte, backbone.Spec, error) {
	var model onnx.ModelProto
	if err := proto.Unmarshal(backboneONNX, &model); err != nil {
		return nil, spec, fmt.Errorf("the backbone is not an ONNX model: %w", err)
	}
	g := model.GetGraph()
	if g == nil {
		return nil, spec, fmt.Errorf("the backbone has no graph")
	}
	feat, err := featuresOutput(g, spec.Output)
	if err != nil {
		return nil, spec, err
	}
	k, d := m.K(), m.D()
	w, bias := m.Folded()

	// New names must not collide with any name of the backbone's graph.
	b := onnx.NewBuilder("head")
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			b.Reserve(o)
		}
	}
	for _, t := range g.GetInitializer() {
		b.Reserve(t.GetName())
	}
	for _, v := range append(g.GetInput(), g.GetOutput()...) {
		b.Reserve(v.GetName())
	}
	// Gemm computes A·B + C with B stored D×K: transpose the K×D weights.
	wt := make([]float32, d*k)
	for c := range k {
		for j := range d {
			wt[j*k+c] = float32(w[c*d+j])
		}
	}
	b32 := make([]float32, k)
	for c := range bias {
		b32[c] = float32(bias[c])
	}
	flat := b.Op("Flatten", b.Fresh("head_flat"), []string{feat}, onnx.Int("axis", 1))
	logits := b.Op("Gemm", b.Fresh("head_logits"), []string{flat, b.Float(b.Fresh("head_w"), []int64{int64(d), int64(k)}, wt),
		b.Float(b.Fresh("head_b"), []int64{int64(k)}, b32)})
	probs := b.Fresh(ProbsName)
	b.Node("Softmax", []string{logits}, []string{probs}, onnx.Int("axis", 1))
	b.Output(probs, onnx.Batch, int64(k))

	head := b.Graph()
	g.Node = append(g.Node, head.GetNode()...)
	g.Initializer = append(g.Initializer, head.GetInitializer()...)
	// Outputs: the feature vector as featurize reads it, and the
	// probabilities; anything else the backbone exposed is dropped.
	var outs []*onnx.ValueInfoProto
	for _, o := range g.GetOutput() {
		if o.GetName() == feat {
			outs = append(outs, o)
		}
	}
	g.Output = append(outs, head.GetOutput()...)
	// The opset stays the backbone's: raising it could change the meaning
	// of the backbone's own nodes. Flatten, Gemm and a Softmax over axis 1 of
	// a 2-D tensor mean the same in every opset since 7.
	data, err := onnx.Marshal(&model)
	if err != nil {
		return nil, spec, err
	}
	out := spec
	out.Output = feat
	out.Probs = probs
	out.Classes = append([]string(nil), m.Classes...)
	out.Resize = resize
	return data, out, nil
}

// featuresOutput finds the backbone's feature output: the sidecar's, or
// the only output there is.
func featuresOutput(g *onnx.GraphProto, want string) (string, error) {
	var names []string
	for _, o := range g.GetOutput() {
		if o.GetName() == want {
			return want, nil
		}
		names = append(names, o.GetName())
	}
	if want == "" && len(names) == 1 {
		return names[0], nil
	}
	return "", fmt.Errorf("the backbone has outputs %s; its spec names %q as the features", strings.Join(names, ", "), want)
}
