package fmnist

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestLoadMatchesCheckedInSample(t *testing.T) {
	if !Available(Dir) {
		t.Skip("dataset-fashion-mnist is not installed (make deps installs it)")
	}
	s, err := Load(Dir, "t10k", 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Images) != 50 || len(s.Labels) != 50 {
		t.Fatalf("%d images, %d labels", len(s.Images), len(s.Labels))
	}
	// testdata/images/fmnist was made from the same file by another tool.
	_, file, _, _ := runtime.Caller(0)
	sample := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "images", "fmnist")
	matched := 0
	for i := range s.Images {
		name := filepath.Join(sample, Classes[s.Labels[i]], formatIndex(i)+".png")
		data, err := os.ReadFile(name)
		if os.IsNotExist(err) {
			continue
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		for y := 0; y < 28; y++ {
			for x := 0; x < 28; x++ {
				r, _, _, _ := img.At(x, y).RGBA()
				got.WriteByte(byte(r >> 8))
			}
		}
		if !bytes.Equal(got.Bytes(), s.Images[i]) {
			t.Fatalf("image %d differs from %s", i, name)
		}
		matched++
	}
	if matched < 10 {
		t.Fatalf("only %d of the first 50 test images found in the sample", matched)
	}
}

func formatIndex(i int) string {
	b := []byte("00000")
	for k := 4; k >= 0 && i > 0; k-- {
		b[k] = byte('0' + i%10)
		i /= 10
	}
	return string(b)
}
