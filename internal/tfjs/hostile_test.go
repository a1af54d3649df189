package tfjs

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tinyJSON is writeTinyModel's model.json with the input shape and the
// conv kernel's manifest shape replaceable, and its 24-byte weight file.
func tinyJSON(inputShape, kernelShape string) (string, []byte) {
	mj := `{"format":"layers-model","modelTopology":{"keras_version":"2.2.4","model_config":{"class_name":"Model","config":{"name":"tiny","layers":[` +
		`{"name":"in","class_name":"InputLayer","config":{"batch_input_shape":` + inputShape + `,"dtype":"float32"},"inbound_nodes":[]},` +
		`{"name":"conv","class_name":"Conv2D","config":{"filters":2,"kernel_size":[1,1],"strides":[1,1],"padding":"valid","data_format":"channels_last","dilation_rate":[1,1],"activation":"relu","use_bias":false},"inbound_nodes":[[["in",0,0,{}]]]},` +
		`{"name":"gap","class_name":"GlobalAveragePooling2D","config":{"data_format":"channels_last"},"inbound_nodes":[[["conv",0,0,{}]]]}` +
		`],"input_layers":[["in",0,0]],"output_layers":[["gap",0,0]]}}},` +
		`"weightsManifest":[{"paths":["w.bin"],"weights":[{"name":"conv/kernel","shape":` + kernelShape + `,"dtype":"float32"}]}]}`
	var w []byte
	for _, v := range []float32{1, 0, 0, 1, 0, -1} {
		w = binary.LittleEndian.AppendUint32(w, math.Float32bits(v))
	}
	return mj, w
}

func writeModel(t testing.TB, dir, mj string, w []byte) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "model.json"), []byte(mj), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), w, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The cases of issue 14: shapes that used to panic in make() or grow to
// gigabytes are refused with a message naming the limit.
func TestHostileShapesAreRefused(t *testing.T) {
	cases := []struct {
		name, input, kernel, want string
	}{
		{"weight of 1e20 elements", "[null,4,4,3]", "[100000,100000,100000,100000]", "more than"},
		{"weight overflowing int64", "[null,4,4,3]", "[4294967296,4294967296,4294967296,4294967296]", "more than"},
		{"weight larger than the shards", "[null,4,4,3]", "[1000,1000,3,2]", "shards hold 24"},
		{"negative dimension", "[null,4,4,3]", "[1,-1,3,2]", "bad shape"},
		{"input of 1e10 pixels", "[null,100000,100000,3]", "[1,1,3,2]", "at most 8192"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mj, w := tinyJSON(c.input, c.kernel)
			m, err := Load(writeModel(t, t.TempDir(), mj, w))
			if err == nil {
				_, err = Convert(m, Options{})
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
	// The untouched model still converts: the checks refuse only the bad.
	mj, w := tinyJSON("[null,4,4,3]", "[1,1,3,2]")
	m, err := Load(writeModel(t, t.TempDir(), mj, w))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Convert(m, Options{}); err != nil {
		t.Fatal(err)
	}
}

// A cancelled context stops loading and converting.
func TestImportStopsWhenCancelled(t *testing.T) {
	mj, w := tinyJSON("[null,4,4,3]", "[1,1,3,2]")
	dir := writeModel(t, t.TempDir(), mj, w)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := LoadContext(ctx, dir); err != context.Canceled {
		t.Errorf("LoadContext: %v, want context.Canceled", err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ConvertContext(ctx, m, Options{}); err != context.Canceled {
		t.Errorf("ConvertContext: %v, want context.Canceled", err)
	}
}

// FuzzLoad: no model.json or weight file makes Load or Convert panic, and
// nothing takes long (a shape must not turn into a huge allocation).
func FuzzLoad(f *testing.F) {
	mj, w := tinyJSON("[null,4,4,3]", "[1,1,3,2]")
	f.Add(mj, w)
	for _, c := range [][2]string{
		{"[null,4,4,3]", "[100000,100000,100000,100000]"},
		{"[null,100000,100000,3]", "[1,1,3,2]"},
		{"[null,4,4,3]", "[1,1,3,-2]"},
		{"[null,null,4,3]", "[1,1,3,2]"},
		{"[null,4,4,3]", "[]"},
	} {
		mj, w := tinyJSON(c[0], c[1])
		f.Add(mj, w)
	}
	f.Add(`{"modelTopology":{"class_name":"Sequential","config":[]}}`, []byte{})
	f.Add(`{"format":"graph-model","modelTopology":{"node":[]}}`, []byte{})
	f.Fuzz(func(t *testing.T, mj string, w []byte) {
		dir := writeModel(t, t.TempDir(), mj, w)
		start := time.Now()
		m, err := Load(dir)
		if err == nil {
			Convert(m, Options{})
			m.Summary()
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v", d)
		}
	})
}
