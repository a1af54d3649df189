package backbone

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// Model is an ONNX backbone ready to turn batches of image tensors into
// feature vectors. Run is safe for concurrent use (see Options.Sessions).
type Model struct {
	Spec   Spec
	Path   string
	SHA256 string // hex digest of the .onnx file: the backbone's identity in feature files
	Bytes  int64  // size of the .onnx file

	sessions []*ort.DynamicAdvancedSession
	free     chan *ort.DynamicAdvancedSession // sessions not running a call
	mu       sync.Mutex                       // guards dim
	inShape  []int64                          // per-image input shape without the batch dimension
	maxBatch int                              // 0 = any; >0 when the graph fixes the batch dimension
	dim      int                              // features per image, known after the first Run when the graph leaves it dynamic
}

// Options tune the ONNX Runtime session.
type Options struct {
	Threads int // intra-op threads of a session; 0 lets ONNX Runtime choose
	// Sessions is how many sessions to open (default 1). Run is safe for
	// concurrent use either way; with one session concurrent calls share
	// its intra-op thread pool, which is only right when Threads is 1
	// (each call then runs on its caller's thread). Callers that run
	// several multi-threaded calls at once open one session per call.
	Sessions int
}

// Open loads an ONNX model file and checks spec against the graph's
// declared inputs and outputs. Init must have succeeded first.
func Open(path string, spec Spec, opt Options) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if spec.Name == "" {
		spec.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return OpenData(data, path, spec, opt)
}

// OpenData is Open for a model held in memory (a generated backbone such as
// pixels); path only names it in messages.
func OpenData(data []byte, path string, spec Spec, opt Options) (*Model, error) {
	if !ort.IsInitialized() {
		return nil, ErrNotInitialized
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	inputs, outputs, err := ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return nil, fmt.Errorf("%s: not a loadable ONNX model: %w", path, err)
	}
	in, err := pickIO("input", spec.Input.Name, inputs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out, err := pickIO("output", spec.Output, outputs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if in.DataType != ort.TensorElementDataTypeFloat || out.DataType != ort.TensorElementDataTypeFloat {
		return nil, fmt.Errorf("%s: input %q and output %q must be float32 tensors", path, in.Name, out.Name)
	}
	m := &Model{Spec: spec, Path: path, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(data))}
	m.Spec.Input.Name, m.Spec.Output = in.Name, out.Name
	if err := m.checkInputShape(in.Dimensions); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if d := out.Dimensions; len(d) >= 1 {
		dim := int64(1)
		for _, v := range d[1:] {
			if v <= 0 {
				dim = -1
				break
			}
			dim *= v
		}
		if dim > 0 {
			m.dim = int(dim)
		}
	}

	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	// Idle intra-op threads would otherwise spin, taking the cores that
	// featurize's decoders need between batches.
	if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
		return nil, err
	}
	if opt.Threads > 0 {
		if err := so.SetIntraOpNumThreads(opt.Threads); err != nil {
			return nil, err
		}
		if err := so.SetInterOpNumThreads(1); err != nil {
			return nil, err
		}
	}
	n := max(opt.Sessions, 1)
	m.free = make(chan *ort.DynamicAdvancedSession, n)
	for range n {
		s, err := ort.NewDynamicAdvancedSessionWithONNXData(data, []string{in.Name}, []string{out.Name}, so)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("%s: creating ONNX Runtime session: %w", path, err)
		}
		m.sessions = append(m.sessions, s)
		m.free <- s
	}
	return m, nil
}

// checkInputShape compares the graph's declared input with the spec, so a
// wrong layout or size fails at start-up with both shapes in the message
// instead of deep inside ONNX Runtime on the first batch.
func (m *Model) checkInputShape(dims ort.Shape) error {
	in := m.Spec.Input
	c, h, w := int64(in.NumChannels()), int64(in.Height()), int64(in.Width())
	want := []int64{c, h, w}
	if strings.EqualFold(in.Layout, "NHWC") {
		want = []int64{h, w, c}
	}
	if len(dims) != 4 {
		return fmt.Errorf("input %q has shape %v; want 4 dimensions [batch %s]", in.Name, dims, in.Layout)
	}
	for i, v := range dims[1:] {
		if v > 0 && v != want[i] {
			return fmt.Errorf("input %q has shape %v but the spec says %s %v (size is [height, width])", in.Name, dims, strings.ToUpper(in.Layout), want)
		}
	}
	if dims[0] > 0 {
		m.maxBatch = int(dims[0])
	}
	m.inShape = want
	return nil
}

func pickIO(kind, name string, infos []ort.InputOutputInfo) (ort.InputOutputInfo, error) {
	var names []string
	for _, info := range infos {
		if info.Name == name {
			return info, nil
		}
		names = append(names, info.Name)
	}
	if name == "" && len(infos) == 1 {
		return infos[0], nil
	}
	if name == "" {
		return ort.InputOutputInfo{}, fmt.Errorf("the graph has %d %ss (%s): name one in the spec (%q)", len(infos), kind, strings.Join(names, ", "), kind)
	}
	return ort.InputOutputInfo{}, fmt.Errorf("no %s named %q; the graph has: %s", kind, name, strings.Join(names, ", "))
}

// MaxBatch is the largest batch the graph accepts; 0 means no limit.
func (m *Model) MaxBatch() int { return m.maxBatch }

// Dim is the feature dimension, or 0 if the graph leaves it dynamic and no
// batch has run yet.
func (m *Model) Dim() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dim
}

// InputLen is the number of float32 values of one image's input tensor.
func (m *Model) InputLen() int { return int(m.inShape[0] * m.inShape[1] * m.inShape[2]) }

// Run computes the features of n images packed back to back in input
// (n*InputLen values) and appends them to dst, n*Dim values.
func (m *Model) Run(dst, input []float32, n int) ([]float32, error) {
	if len(input) != n*m.InputLen() {
		return dst, fmt.Errorf("backbone: input has %d values, want %d images x %d", len(input), n, m.InputLen())
	}
	shape := ort.NewShape(append([]int64{int64(n)}, m.inShape...)...)
	t, err := ort.NewTensor(shape, input)
	if err != nil {
		return dst, err
	}
	defer t.Destroy()
	outs := []ort.Value{nil}
	// With one session, concurrent calls share it (ONNX Runtime allows
	// that); with several, each call takes a free one.
	s := <-m.free
	if len(m.sessions) == 1 {
		m.free <- s
	}
	err = s.Run([]ort.Value{t}, outs)
	if len(m.sessions) > 1 {
		m.free <- s
	}
	if err != nil {
		return dst, fmt.Errorf("backbone %s: %w", m.Spec.Name, err)
	}
	defer outs[0].Destroy()
	ft, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return dst, fmt.Errorf("backbone %s: output %q is not a float32 tensor", m.Spec.Name, m.Spec.Output)
	}
	data := ft.GetData()
	if len(data)%n != 0 {
		return dst, fmt.Errorf("backbone %s: output has %d values for %d images", m.Spec.Name, len(data), n)
	}
	dim := len(data) / n
	m.mu.Lock()
	want := m.dim
	if want == 0 {
		m.dim = dim
	}
	m.mu.Unlock()
	if want != 0 && dim != want {
		return dst, fmt.Errorf("backbone %s: output has %d values per image, want %d", m.Spec.Name, dim, want)
	}
	return append(dst, data...), nil
}

// Close releases the sessions. No Run may be in flight.
func (m *Model) Close() error {
	var errs []error
	for _, s := range m.sessions {
		errs = append(errs, s.Destroy())
	}
	m.sessions = nil
	return errors.Join(errs...)
}
