package backbone

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Spec describes how to feed images to an ONNX backbone and which output to
// keep. It is what the sidecar FILE.onnx.json holds:
//
//	{"name":"resnet18","input":{"name":"input","layout":"NCHW","size":[224,224],
//	 "channels":"RGB","scale":255,"mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]},
//	 "output":"features"}
//
// A pixel v in 0..255 becomes (v/scale - mean[c]) / std[c].
type Spec struct {
	Name   string    `json:"name"`
	Input  InputSpec `json:"input"`
	Output string    `json:"output,omitempty"`
	// Set by winnow export for a whole classifier: the output holding the
	// class probabilities, the class names in its order, and how images
	// were fitted to the input (pad, crop, stretch) when it was trained.
	Probs   string   `json:"probs,omitempty"`
	Classes []string `json:"classes,omitempty"`
	Resize  string   `json:"resize,omitempty"`
	// Also from winnow export, when the model has them: the novelty
	// output and its cut, and the confidence cuts of the model's
	// calibration (winnow evaluate --calibrate).
	Novelty     *NoveltySpec     `json:"novelty,omitempty"`
	Calibration *CalibrationSpec `json:"calibration,omitempty"`
}

// NoveltySpec is the exported graph's novelty output (batch x 1): an
// image scoring above Cut is novel, whatever its probabilities (0: no cut).
type NoveltySpec struct {
	Output string  `json:"output"`
	Cut    float64 `json:"cut"`
}

// CalibrationSpec is the confidence cut that settles a prediction: its
// top probability at or above Threshold (null: nothing is settled), or
// above its class's own threshold for a class in ClassThresholds.
type CalibrationSpec struct {
	TargetAccuracy  float64             `json:"target_accuracy"`
	Threshold       *float64            `json:"threshold"`
	ClassTargets    map[string]float64  `json:"class_targets,omitempty"`
	ClassThresholds map[string]*float64 `json:"class_thresholds,omitempty"`
}

// InputSpec is the image tensor the graph expects.
type InputSpec struct {
	Name     string    `json:"name,omitempty"`
	Layout   string    `json:"layout"`   // NCHW or NHWC
	Size     []int     `json:"size"`     // [height, width] in pixels
	Channels string    `json:"channels"` // RGB, BGR or L
	Scale    float32   `json:"scale"`
	Mean     []float32 `json:"mean"`
	Std      []float32 `json:"std"`
}

// SidecarPath is where the spec of a model file is looked for.
func SidecarPath(model string) string { return model + ".json" }

// LoadSidecar reads FILE.onnx.json. A missing sidecar is not an error: it
// returns ok=false, and the fields must then come from flags.
func LoadSidecar(model string) (s Spec, ok bool, err error) {
	data, err := os.ReadFile(SidecarPath(model))
	if errors.Is(err, os.ErrNotExist) {
		return Spec{}, false, nil
	}
	if err != nil {
		return Spec{}, false, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Spec{}, false, fmt.Errorf("%s: %w", SidecarPath(model), err)
	}
	return s, true, nil
}

// NumChannels is the number of colour channels the input takes.
func (in InputSpec) NumChannels() int {
	if strings.EqualFold(in.Channels, "L") {
		return 1
	}
	return 3
}

// Height and Width of the network input.
func (in InputSpec) Height() int { return in.Size[0] }
func (in InputSpec) Width() int  { return in.Size[1] }

// Validate reports every missing or inconsistent field at once, naming the
// sidecar key and the flag that would supply it.
func (s Spec) Validate() error {
	var problems []string
	add := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	in := s.Input
	switch strings.ToUpper(in.Layout) {
	case "NCHW", "NHWC":
	case "":
		add(`input.layout is missing (NCHW or NHWC; flag --layout)`)
	default:
		add(`input.layout %q is not NCHW or NHWC`, in.Layout)
	}
	if len(in.Size) != 2 || in.Size[0] <= 0 || in.Size[1] <= 0 {
		add(`input.size must be [height, width] with positive values (flag --size HxW), got %v`, in.Size)
	}
	switch strings.ToUpper(in.Channels) {
	case "RGB", "BGR", "L":
	case "":
		add(`input.channels is missing (RGB, BGR or L; flag --channels)`)
	default:
		add(`input.channels %q is not RGB, BGR or L`, in.Channels)
	}
	if in.Scale <= 0 {
		add(`input.scale must be > 0, e.g. 255 for inputs in [0,1] (flag --scale)`)
	}
	nc := in.NumChannels()
	if len(in.Mean) != nc {
		add(`input.mean needs %d values (flag --mean), got %d`, nc, len(in.Mean))
	}
	if len(in.Std) != nc {
		add(`input.std needs %d values (flag --std), got %d`, nc, len(in.Std))
	}
	for _, v := range in.Std {
		if v == 0 {
			add(`input.std has a zero`)
			break
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New("backbone spec: " + strings.Join(problems, "; "))
}

// Describe is a one-line, stable description of the preprocessing, stored in
// the feature file so that features made differently are never mixed.
func (s Spec) Describe(resize string) string {
	in := s.Input
	return fmt.Sprintf("resize=%s size=%dx%d layout=%s channels=%s scale=%g mean=%v std=%v",
		resize, in.Width(), in.Height(), strings.ToUpper(in.Layout), strings.ToUpper(in.Channels), in.Scale, in.Mean, in.Std)
}
