package classify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/backbone"
	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/imageio"
	"github.com/winnowml/winnow/internal/metrics"
)

// Backbone is the backbone file a model was trained on, checked.
type Backbone struct {
	Data   []byte
	Where  string
	Spec   backbone.Spec
	Resize imageio.ResizeMode
}

// ResolveBackbone finds the backbone a model's features came from: src (a
// file or built-in name) when given, else the name the model records. It
// must be the very file (same sha256) preprocessed the same way; a model
// trained on CSV features records no backbone and is refused.
func ResolveBackbone(mf *classifier.File, model, src string) (*Backbone, error) {
	if mf.Backbone.SHA256 == "" {
		return nil, fmt.Errorf("%s was trained on CSV features, which record no backbone: it cannot classify images", model)
	}
	if src == "" {
		src = RecordedBackbone(mf.Backbone.Name)
	}
	data, where, spec, err := backbone.Resolve(src)
	if err != nil {
		return nil, fmt.Errorf("the model's backbone %s: %w (give the file with --backbone)", mf.Backbone.Name, err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != mf.Backbone.SHA256 {
		return nil, fmt.Errorf("backbone %s has sha256 %.12s, the model was trained on features of %.12s: not the same file", src, got, mf.Backbone.SHA256)
	}
	mode, err := imageio.ParseResizeMode(ResizeOf(mf.Backbone.Preprocess))
	if err != nil {
		return nil, fmt.Errorf("the model's preprocessing %q: %w", mf.Backbone.Preprocess, err)
	}
	if want := spec.Describe(mode.String()); want != mf.Backbone.Preprocess {
		return nil, fmt.Errorf("the backbone's preprocessing (%s) differs from the training features' (%s)", want, mf.Backbone.Preprocess)
	}
	return &Backbone{Data: data, Where: where, Spec: spec, Resize: mode}, nil
}

// RecordedBackbone turns the name a feature file records back into what
// backbone.Resolve takes: generated pixel backbones are recorded as
// pixels-HxW-channels and resolved as pixels:HxW:channels.
func RecordedBackbone(name string) string {
	if rest, ok := strings.CutPrefix(name, "pixels-"); ok {
		return "pixels:" + strings.ReplaceAll(rest, "-", ":")
	}
	return name
}

// ResizeOf reads the resize mode from a preprocessing description
// (backbone.Spec.Describe).
func ResizeOf(preprocess string) string {
	for _, f := range strings.Fields(preprocess) {
		if v, ok := strings.CutPrefix(f, "resize="); ok {
			return v
		}
	}
	return ""
}

// Result is one image's prediction.
type Result struct {
	Predicted string             `json:"predicted"`
	Probs     map[string]float64 `json:"probs"`
	MaxProb   float64            `json:"max_prob"`
	Entropy   float64            `json:"entropy"`
	// Novelty is how unlike the model's labelled images the image is
	// (package novelty); absent for a model without a reference.
	Novelty *float64 `json:"novelty,omitempty"`
	// Status is "novel" above the model's novelty cut, otherwise
	// "settled" or "uncertain" by the calibrated confidence cut; absent
	// when neither applies.
	Status string `json:"status,omitempty"`
}

// Single classifies one image at a time with an open backbone session,
// preprocessed exactly as featurize does (decode with the same DCT
// scaling, fit, pack), so an upload gets the probabilities classify gives
// the same file. Safe for concurrent use: inference calls take turns.
type Single struct {
	Model     *classifier.File
	Backbone  *backbone.Model
	Resize    imageio.ResizeMode
	Cut       *Cut // nil: no status
	MaxPixels int64
	// Lock guards the backbone's inference calls; nil uses a lock of this
	// Single's own. Give the same lock to every Single sharing a session.
	Lock sync.Locker

	mu sync.Mutex
}

// ErrBadImage wraps decoding failures: the caller's input, not the server.
var ErrBadImage = errors.New("bad image")

// Classify decodes and classifies the bytes of one image file.
func (s *Single) Classify(data []byte) (Result, error) {
	in := s.Backbone.Spec.Input
	ts := imageio.TensorSpec{Layout: strings.ToUpper(in.Layout), Channels: strings.ToUpper(in.Channels),
		Scale: in.Scale, Mean: in.Mean, Std: in.Std}
	w, h := in.Width(), in.Height()
	img, _, err := imageio.Decode(data, imageio.DecodeOptions{MaxPixels: s.MaxPixels, MinW: w, MinH: h, Resize: s.Resize})
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrBadImage, err)
	}
	fit := imageio.Fit(nil, img, w, h, s.Resize, imageio.MeanColor(ts))
	tensor := make([]float32, s.Backbone.InputLen())
	ts.Pack(tensor, fit)
	var lock sync.Locker = &s.mu
	if s.Lock != nil {
		lock = s.Lock
	}
	lock.Lock()
	feats, err := s.Backbone.Run(nil, tensor, 1)
	lock.Unlock()
	if err != nil {
		return Result{}, err
	}
	if i := dataset.FirstNonFinite(feats); i >= 0 {
		return Result{}, fmt.Errorf("%w: feature %d is %v", ErrBadImage, i, feats[i])
	}
	if len(feats) != s.Model.Backbone.Dim {
		return Result{}, fmt.Errorf("the backbone gave %d features, the model takes %d", len(feats), s.Model.Backbone.Dim)
	}
	x := make([]float64, len(feats))
	for i, v := range feats {
		x[i] = float64(v)
	}
	probs := s.Model.Predict(mat.NewDense(1, len(x), x)).RawRowView(0)
	classes := s.Model.Model.Classes
	k := metrics.Argmax(probs)
	r := Result{Predicted: classes[k], Probs: make(map[string]float64, len(classes)),
		MaxProb: metrics.MaxProb(probs), Entropy: metrics.Entropy(probs)}
	for j, c := range classes {
		r.Probs[c] = probs[j]
	}
	novel := false
	if s.Model.Novelty != nil {
		nov, err := s.Model.Novelties(x, 1)
		if err != nil {
			return Result{}, err
		}
		r.Novelty, novel = &nov[0], s.Model.Novel(nov[0])
	}
	r.Status = Decide(s.Cut, k, r.MaxProb, novel)
	return r, nil
}
