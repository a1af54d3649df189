package tfjs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// The faithfulness test feeds the converted graph and tfjs the same uint8
// RGB tensors (already resized), so that no resizing difference can hide or
// create a mismatch. Both sides turn a pixel v into float32(v/255).
//
// To regenerate testdata/tfjs/reference.json (see tools/tfjs-reference/README.md):
//
//	go test ./internal/tfjs -run TestWriteReferenceInputs -tfjs.write-inputs /tmp/tfjs-inputs
//	node tools/tfjs-reference/reference.js .deps/nsfwjs /tmp/tfjs-inputs testdata/tfjs/reference.json
var writeInputs = flag.String("tfjs.write-inputs", "", "write the faithfulness test's input tensors to this folder and exit")

// referenceImages are real photos and Fashion-MNIST drawings from testdata/images.
var referenceImages = []string{
	"photos/china.jpg",
	"photos/flower.jpg",
	"photos/grace_hopper.jpg",
	"fmnist/ankle-boot/00000.png",
	"fmnist/trouser/00002.png",
}

// referenceSizes are the input sizes of nsfwjs' mobilenet_v2 and inception_v3.
var referenceSizes = []int{224, 299}

func repoPath(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", rel)
}

// inputTensor decodes an image and resizes it to size x size RGB, HWC order,
// with bilinear interpolation that aligns corners (as nsfwjs resizes), in
// 16.16 fixed point so that the bytes are the same on every machine.
func inputTensor(path string, size int) ([]uint8, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	src := make([]int64, w*h*3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			i := (y*w + x) * 3
			src[i], src[i+1], src[i+2] = int64(r>>8), int64(g>>8), int64(bl>>8)
		}
	}
	pos := func(i, n int) (lo, hi int, frac int64) {
		if size == 1 || n == 1 {
			return 0, 0, 0
		}
		p := int64(i) * int64(n-1) * 65536 / int64(size-1)
		lo = int(p >> 16)
		return lo, min(lo+1, n-1), p & 0xffff
	}
	out := make([]uint8, size*size*3)
	for y := 0; y < size; y++ {
		y0, y1, fy := pos(y, h)
		for x := 0; x < size; x++ {
			x0, x1, fx := pos(x, w)
			for c := 0; c < 3; c++ {
				p00, p01 := src[(y0*w+x0)*3+c], src[(y0*w+x1)*3+c]
				p10, p11 := src[(y1*w+x0)*3+c], src[(y1*w+x1)*3+c]
				top := p00*(65536-fx) + p01*fx
				bot := p10*(65536-fx) + p11*fx
				v := (top*(65536-fy) + bot*fy + 1<<31) >> 32
				out[(y*size+x)*3+c] = uint8(v)
			}
		}
	}
	return out, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type inputManifest struct {
	Images []inputEntry `json:"images"`
}

type inputEntry struct {
	Name   string `json:"name"`
	Size   int    `json:"size"`
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

func TestWriteReferenceInputs(t *testing.T) {
	if *writeInputs == "" {
		t.Skip("only with -tfjs.write-inputs DIR (regenerating the reference vectors)")
	}
	var man inputManifest
	for _, size := range referenceSizes {
		for i, name := range referenceImages {
			x, err := inputTensor(repoPath("testdata/images/"+name), size)
			if err != nil {
				t.Fatal(err)
			}
			file := fmt.Sprintf("%d/%02d.u8", size, i)
			p := filepath.Join(*writeInputs, file)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, x, 0o644); err != nil {
				t.Fatal(err)
			}
			man.Images = append(man.Images, inputEntry{Name: name, Size: size, File: file, SHA256: sha256Hex(x)})
		}
	}
	data, err := json.MarshalIndent(man, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*writeInputs, "inputs.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}
