package imageio

import (
	"math"
	"strings"
	"testing"
)

// The 2x2 test image, row-major:
//
//	(10,20,30)   (40,50,60)
//	(70,80,90)   (100,110,120)
func tiny() *RGB {
	return &RGB{W: 2, H: 2, Pix: []uint8{10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120}}
}

func closeTo(t *testing.T, name string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", name, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-5 {
			t.Errorf("%s: [%d] = %v, want %v\ngot  %v\nwant %v", name, i, got[i], want[i], got, want)
			return
		}
	}
}

func TestPack(t *testing.T) {
	// Scale 1, Mean {1,2,3}, Std {2,4,5}: (v - m)/s, worked by hand.
	// R: (10-1)/2=4.5 (40-1)/2=19.5 (70-1)/2=34.5 (100-1)/2=49.5
	// G: (20-2)/4=4.5 (50-2)/4=12  (80-2)/4=19.5 (110-2)/4=27
	// B: (30-3)/5=5.4 (60-3)/5=11.4 (90-3)/5=17.4 (120-3)/5=23.4
	simple := TensorSpec{Layout: "NCHW", Channels: "RGB", Scale: 1, Mean: []float32{1, 2, 3}, Std: []float32{2, 4, 5}}
	// For BGR the tensor's channel 0 is blue, so Mean[0]/Std[0] apply to blue:
	// B: (30-1)/2=14.5 (60-1)/2=29.5 (90-1)/2=44.5 (120-1)/2=59.5
	// G: as above
	// R: (10-3)/5=1.4 (40-3)/5=7.4 (70-3)/5=13.4 (100-3)/5=19.4
	bgr := simple
	bgr.Channels = "BGR"
	tests := []struct {
		name string
		spec TensorSpec
		want []float32
	}{
		{"NCHW RGB", simple, []float32{
			4.5, 19.5, 34.5, 49.5,
			4.5, 12, 19.5, 27,
			5.4, 11.4, 17.4, 23.4}},
		{"NHWC RGB", TensorSpec{Layout: "NHWC", Channels: "RGB", Scale: 1, Mean: simple.Mean, Std: simple.Std}, []float32{
			4.5, 4.5, 5.4,
			19.5, 12, 11.4,
			34.5, 19.5, 17.4,
			49.5, 27, 23.4}},
		{"NCHW BGR", bgr, []float32{
			14.5, 29.5, 44.5, 59.5,
			4.5, 12, 19.5, 27,
			1.4, 7.4, 13.4, 19.4}},
		{"NHWC BGR", TensorSpec{Layout: "NHWC", Channels: "BGR", Scale: 1, Mean: simple.Mean, Std: simple.Std}, []float32{
			14.5, 4.5, 1.4,
			29.5, 12, 7.4,
			44.5, 19.5, 13.4,
			59.5, 27, 19.4}},
		// Scale 255 with no mean/std: v/255.
		{"scale only", TensorSpec{Layout: "NCHW", Channels: "RGB", Scale: 255}, []float32{
			10. / 255, 40. / 255, 70. / 255, 100. / 255,
			20. / 255, 50. / 255, 80. / 255, 110. / 255,
			30. / 255, 60. / 255, 90. / 255, 120. / 255}},
		// Luma 0.299R+0.587G+0.114B: 2.99+11.74+3.42=18.15, 11.96+29.35+6.84=48.15,
		// 20.93+46.96+10.26=78.15, 29.9+64.57+13.68=108.15; then (Y-8)/2.
		{"L", TensorSpec{Layout: "NCHW", Channels: "L", Scale: 1, Mean: []float32{8}, Std: []float32{2}}, []float32{
			5.075, 20.075, 35.075, 50.075}},
		{"L NHWC is the same", TensorSpec{Layout: "NHWC", Channels: "L", Scale: 1, Mean: []float32{8}, Std: []float32{2}}, []float32{
			5.075, 20.075, 35.075, 50.075}},
	}
	for _, tt := range tests {
		if err := tt.spec.Validate(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		img := tiny()
		dst := make([]float32, tt.spec.Len(img.W, img.H))
		for i := range dst {
			dst[i] = float32(math.NaN()) // every element must be written
		}
		tt.spec.Pack(dst, img)
		closeTo(t, tt.name, dst, tt.want)
	}
}

func TestPackImageNet(t *testing.T) {
	// torchvision's normalisation: the first red value is (10/255-0.485)/0.229.
	spec := TensorSpec{Layout: "NCHW", Channels: "RGB", Scale: 255,
		Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}
	dst := make([]float32, 12)
	spec.Pack(dst, tiny())
	want := []float64{(10/255.0 - 0.485) / 0.229, (50/255.0 - 0.456) / 0.224, (120/255.0 - 0.406) / 0.225}
	got := []float32{dst[0], dst[4+1], dst[8+3]}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-5 {
			t.Errorf("value %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestPackLenMismatchPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a short dst")
		}
	}()
	TensorSpec{Layout: "NCHW", Channels: "RGB", Scale: 1}.Pack(make([]float32, 11), tiny())
}

func TestMeanColor(t *testing.T) {
	imagenet := TensorSpec{Layout: "NCHW", Channels: "RGB", Scale: 255,
		Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}
	caffe := TensorSpec{Layout: "NCHW", Channels: "BGR", Scale: 1,
		Mean: []float32{103.939, 116.779, 123.68}, Std: []float32{1, 1, 1}}
	luma := TensorSpec{Layout: "NCHW", Channels: "L", Scale: 1, Mean: []float32{33.3}, Std: []float32{1}}
	tests := []struct {
		name string
		spec TensorSpec
		want [3]uint8
	}{
		{"imagenet", imagenet, [3]uint8{124, 116, 104}}, // 0.485*255=123.7 ...
		{"caffe BGR", caffe, [3]uint8{124, 117, 104}},   // reversed into RGB
		{"luma", luma, [3]uint8{33, 33, 33}},
		{"no mean", TensorSpec{Layout: "NCHW", Channels: "RGB", Scale: 255}, [3]uint8{0, 0, 0}},
		{"clamped", TensorSpec{Layout: "NCHW", Channels: "RGB", Scale: 255, Mean: []float32{-1, 0.5, 2}}, [3]uint8{0, 128, 255}},
	}
	for _, tt := range tests {
		got := MeanColor(tt.spec)
		if got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	// Packing the mean colour gives about zero: within half an 8-bit step.
	for _, spec := range []TensorSpec{imagenet, caffe, luma} {
		img := solid(1, 1, MeanColor(spec))
		dst := make([]float32, spec.Len(1, 1))
		spec.Pack(dst, img)
		for c, v := range dst {
			step := 1 / (spec.Scale * spec.Std[c])
			if math.Abs(float64(v)) > float64(step)*0.51 {
				t.Errorf("%s: channel %d packs to %v", spec.Channels, c, v)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	ok := TensorSpec{Layout: "NHWC", Channels: "BGR", Scale: 1, Mean: []float32{1, 2, 3}, Std: []float32{1, 1, 1}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	tests := []struct {
		name   string
		mutate func(*TensorSpec)
		want   string
	}{
		{"layout", func(s *TensorSpec) { s.Layout = "CHW" }, "layout"},
		{"lower-case layout", func(s *TensorSpec) { s.Layout = "nchw" }, "layout"},
		{"channels", func(s *TensorSpec) { s.Channels = "RGBA" }, "channels"},
		{"zero scale", func(s *TensorSpec) { s.Scale = 0 }, "scale"},
		{"NaN scale", func(s *TensorSpec) { s.Scale = nan }, "scale"},
		{"inf scale", func(s *TensorSpec) { s.Scale = inf }, "scale"},
		{"mean length", func(s *TensorSpec) { s.Mean = []float32{1} }, "mean has 1 values"},
		{"std length for L", func(s *TensorSpec) { s.Channels = "L"; s.Mean = []float32{0} }, "std has 3 values"},
		{"zero std", func(s *TensorSpec) { s.Std = []float32{1, 0, 1} }, "std[1]"},
		{"NaN mean", func(s *TensorSpec) { s.Mean = []float32{1, nan, 1} }, "mean[1]"},
	}
	for _, tt := range tests {
		s := ok
		tt.mutate(&s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want mention of %q", tt.name, err, tt.want)
		}
	}
	if n := (TensorSpec{Channels: "L"}).Len(224, 224); n != 224*224 {
		t.Errorf("Len L = %d", n)
	}
	if n := ok.Len(7, 5); n != 105 {
		t.Errorf("Len RGB = %d", n)
	}
}
