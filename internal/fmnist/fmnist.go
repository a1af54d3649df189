// Package fmnist reads Fashion-MNIST as Debian's dataset-fashion-mnist ships
// it (gzipped IDX files), for tests, benchmarks and the demo: real labelled
// images from a registry package, never from the internet.
package fmnist

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
)

// Dir is where Debian's dataset-fashion-mnist installs the files.
const Dir = "/usr/share/datasets/fashion-mnist"

// Classes are the label names in label order, spelled for file names.
var Classes = []string{"t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"}

// Set is one split: Images[i] is 28x28 grey pixels, row-major.
type Set struct {
	Images [][]byte
	Labels []uint8
}

// Available reports whether the dataset is installed in dir.
func Available(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
	return err == nil
}

// Load reads the "train" (60,000) or "t10k" (10,000) split, at most n images
// (n <= 0: all).
func Load(dir, split string, n int) (*Set, error) {
	imgs, err := readIDX(filepath.Join(dir, split+"-images-idx3-ubyte.gz"), 3, n)
	if err != nil {
		return nil, err
	}
	labels, err := readIDX(filepath.Join(dir, split+"-labels-idx1-ubyte.gz"), 1, n)
	if err != nil {
		return nil, err
	}
	s := &Set{Labels: labels}
	for i := range labels {
		s.Images = append(s.Images, imgs[i*784:(i+1)*784])
	}
	return s, nil
}

// readIDX returns the payload of an IDX file of unsigned bytes with the given
// number of dimensions, limited to n items.
func readIDX(path string, dims, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fmnist: %w (apt-get install dataset-fashion-mnist)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("fmnist: %s: %w", path, err)
	}
	hdr := make([]uint32, 1+dims)
	if err := binary.Read(zr, binary.BigEndian, hdr); err != nil {
		return nil, fmt.Errorf("fmnist: %s: %w", path, err)
	}
	if hdr[0] != uint32(0x0800|dims) {
		return nil, fmt.Errorf("fmnist: %s: magic %#x is not an IDX file of %d-d unsigned bytes", path, hdr[0], dims)
	}
	count, size := int(hdr[1]), 1
	for _, d := range hdr[2:] {
		size *= int(d)
	}
	if n > 0 && n < count {
		count = n
	}
	buf := make([]byte, count*size)
	if _, err := io.ReadFull(zr, buf); err != nil {
		return nil, fmt.Errorf("fmnist: %s: %w", path, err)
	}
	return buf, nil
}

// Image returns image i as a Go grey image.
func (s *Set) Image(i int) *image.Gray {
	return &image.Gray{Pix: s.Images[i], Stride: 28, Rect: image.Rect(0, 0, 28, 28)}
}

// WritePNG writes image i to path.
func (s *Set) WritePNG(i int, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, s.Image(i)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
