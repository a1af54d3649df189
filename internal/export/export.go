// Package export writes a trained classifier as one ONNX graph: the backbone,
// then the model's feature normalisation and linear head folded into one
// Gemm, then a softmax, and, for a model with a novelty reference, the
// novelty score computed in the graph. Anything that runs ONNX
// (onnxruntime-node, -web, Python, mobile) can then classify images without
// winnow, and apply the sidecar's cuts as winnow's triage does.
package export

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/novelty"
	"github.com/winnowml/winnow/internal/onnx"
)

// ProbsName is the output holding the class probabilities, NoveltyName the
// one holding the novelty score.
const (
	ProbsName   = "probs"
	NoveltyName = "novelty"
)

// Classifier appends the head of mf's model to the backbone graph and
// returns the serialised model and the sidecar spec describing it (the
// backbone's input spec, the features output, the probabilities output, the
// classes and the resize mode the features were made with; the novelty
// output and cut, and the calibrated confidence cuts, when the model has
// them).
func Classifier(backboneONNX []byte, spec backbone.Spec, mf *classifier.File, resize string) ([]byte, backbone.Spec, error) {
	m := mf.Model
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
	nov := ""
	if mf.Novelty != nil {
		if nov, err = noveltyNodes(b, flat, m.Norm, mf.Novelty, opset(&model)); err != nil {
			return nil, spec, err
		}
	}

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
	if nov != "" {
		out.Novelty = &backbone.NoveltySpec{Output: nov, Cut: mf.NoveltyCut()}
	}
	if c := mf.Calibration; c != nil {
		out.Calibration = &backbone.CalibrationSpec{TargetAccuracy: c.TargetAccuracy, Threshold: c.Threshold,
			ClassTargets: c.ClassTargets, ClassThresholds: c.ClassThresholds}
	}
	return data, out, nil
}

// opset is the graph's version of the default ONNX domain.
func opset(m *onnx.ModelProto) int64 {
	for _, o := range m.GetOpsetImport() {
		if d := o.GetDomain(); d == "" || d == "ai.onnx" {
			return o.GetVersion()
		}
	}
	return 1
}

// noveltyNodes computes package novelty's score of the flat features in the
// graph, as classifier.File.Novelties does: normalise as the model does,
// take the Euclidean distance to every reference row through one MatMul
// (||z||^2 + ||r||^2 - 2 z.r, clamped at 0 as rounding can make it
// negative), average the K smallest and divide by the reference's scale.
// Every op here means the same from opset 10 on, with TopK taking K as an
// input; the graph keeps the backbone's opset.
func noveltyNodes(b *onnx.Builder, flat string, nz linear.Normalization, ref *novelty.Ref, opset int64) (string, error) {
	if opset < 10 {
		return "", fmt.Errorf("the backbone's graph is ONNX opset %d; the novelty output needs opset 10 or later (export the backbone again with a newer opset)", opset)
	}
	d, rows := int64(ref.D), int64(ref.Rows)
	// Both sides are centred on the reference's mean, which leaves the
	// distances as they are and makes the norms small: float32 loses less
	// in ||z||^2 + ||r||^2 - 2 z.r. z - mu = (x - off - mu/scale) * scale,
	// so the mean folds into the offset (a column of scale 0 is 0 in every
	// row, its mean too).
	mu := make([]float64, d)
	for i := range rows {
		for j := range d {
			mu[j] += float64(ref.Data[i*d+j]) / float64(rows)
		}
	}
	off, sc := make([]float32, d), make([]float32, d)
	for j := range off {
		o := nz.Offset[j]
		if nz.Scale[j] != 0 {
			o += mu[j] / nz.Scale[j]
		}
		off[j], sc[j] = float32(o), float32(nz.Scale[j])
	}
	z := b.Op("Mul", b.Fresh("nov_z"), []string{
		b.Op("Sub", b.Fresh("nov_centred"), []string{flat, b.Float(b.Fresh("nov_offset"), []int64{d}, off)}),
		b.Float(b.Fresh("nov_scale"), []int64{d}, sc)})
	ones := make([]float32, d)
	for j := range ones {
		ones[j] = 1
	}
	zn := b.Op("MatMul", b.Fresh("nov_zn"), []string{b.Op("Mul", b.Fresh("nov_zz"), []string{z, z}), b.Float(b.Fresh("nov_ones"), []int64{d, 1}, ones)})
	rt := make([]float32, d*rows) // the reference transposed: D x rows
	rn := make([]float32, rows)
	for i := range rows {
		for j := range d {
			v := float32(float64(ref.Data[i*d+j]) - mu[j])
			rt[j*rows+i] = v
			rn[i] += v * v
		}
	}
	prod := b.Op("MatMul", b.Fresh("nov_dot"), []string{z, b.Float(b.Fresh("nov_ref"), []int64{d, rows}, rt)})
	sq := b.Op("Add", b.Fresh("nov_sq"), []string{
		b.Op("Add", b.Fresh("nov_norms"), []string{zn, b.Float(b.Fresh("nov_rn"), []int64{1, rows}, rn)}),
		b.Op("Mul", b.Fresh("nov_2dot"), []string{prod, b.Float(b.Fresh("nov_m2"), []int64{1}, []float32{-2})})})
	dist := b.Op("Sqrt", b.Fresh("nov_dist"), []string{b.Op("Relu", b.Fresh("nov_sq0"), []string{sq})})
	// TopK finds the largest: the K nearest are the largest negated
	// distances (TopK's "largest" attribute came only in opset 11).
	near := b.Fresh("nov_near")
	b.Node("TopK", []string{b.Op("Neg", b.Fresh("nov_neg"), []string{dist}), b.Int64(b.Fresh("nov_k"), []int64{1}, []int64{int64(ref.K)})},
		[]string{near, b.Fresh("nov_near_idx")})
	w := make([]float32, ref.K)
	for i := range w {
		w[i] = float32(-1 / (float64(ref.K) * ref.Scale))
	}
	out := b.Fresh(NoveltyName)
	b.Node("MatMul", []string{near, b.Float(b.Fresh("nov_mean"), []int64{int64(ref.K), 1}, w)}, []string{out})
	b.Output(out, onnx.Batch, 1)
	return out, nil
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
