package classifier

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/bits"
	"slices"
)

// PathSet records the training paths compactly, so evaluate can warn when
// its rows overlap them without the model carrying every path: each path's
// SHA-256 is reduced to [0, n·2^20), the values are sorted and stored as
// uvarint gaps, base64-encoded. Gaps average 2^20, three bytes each, so
// 100,000 paths take about 400 KB of JSON; a path not in the set is taken
// for one with probability about 2^-20 (one false overlap in a million
// evaluated rows).
type PathSet struct {
	N    int    `json:"n"`    // distinct paths
	Bits int    `json:"bits"` // the range is N·2^Bits
	Data string `json:"data"`
}

const pathSetBits = 20

// NewPathSet builds the set of paths.
func NewPathSet(paths []string) *PathSet {
	uniq := slices.Clone(paths)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	s := &PathSet{N: len(uniq), Bits: pathSetBits}
	hs := make([]uint64, len(uniq))
	for i, p := range uniq {
		hs[i] = s.hash(p)
	}
	slices.Sort(hs)
	buf := make([]byte, 0, 3*len(hs))
	prev := uint64(0)
	for _, h := range hs {
		buf = binary.AppendUvarint(buf, h-prev)
		prev = h
	}
	s.Data = base64.StdEncoding.EncodeToString(buf)
	return s
}

func (s *PathSet) hash(p string) uint64 {
	sum := sha256.Sum256([]byte(p))
	// Multiply-shift maps the 64-bit hash uniformly onto [0, range).
	hi, _ := bits.Mul64(binary.BigEndian.Uint64(sum[:8]), uint64(s.N)<<s.Bits)
	return hi
}

// Matcher decodes the set once and tells whether a path is (probably) in it.
func (s *PathSet) Matcher() (func(path string) bool, error) {
	if s.N == 0 {
		return func(string) bool { return false }, nil
	}
	if s.Bits <= 0 || s.Bits > 40 {
		return nil, errors.New("training path set: bad bits")
	}
	buf, err := base64.StdEncoding.DecodeString(s.Data)
	if err != nil {
		return nil, err
	}
	hs := make(map[uint64]struct{}, s.N)
	prev := uint64(0)
	for len(buf) > 0 {
		d, n := binary.Uvarint(buf)
		if n <= 0 {
			return nil, errors.New("training path set: corrupt data")
		}
		prev += d
		hs[prev] = struct{}{}
		buf = buf[n:]
	}
	return func(p string) bool {
		_, ok := hs[s.hash(p)]
		return ok
	}, nil
}
