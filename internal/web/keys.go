package web

import (
	"context"
	"strconv"
	"strings"

	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/project"
)

// actionKeys are the Label page's keys that do something other than choose
// a class: b bad example, h class guide, s skip, u undo, x none of these,
// z zoom. "/" (filter) and "?" (key map) are not letters.
const actionKeys = "bhsuxz"

// classLetters are the letters left for classes after the action keys, in
// alphabetical order so the eleventh class onwards gets a predictable key.
var classLetters = func() []byte {
	var out []byte
	for c := byte('a'); c <= 'z'; c++ {
		if strings.IndexByte(actionKeys, c) < 0 {
			out = append(out, c)
		}
	}
	return out
}()

// classKey is the key of the i-th class: 1-9, then 0 for the tenth (the
// digit row as printed on a keyboard), then the free letters; "" once those
// run out, when the filter box is the way to reach a class by keyboard.
func classKey(i int) string {
	switch {
	case i < 0:
		return ""
	case i < 9:
		return strconv.Itoa(i + 1)
	case i == 9:
		return "0"
	case i-10 < len(classLetters):
		return string(classLetters[i-10])
	}
	return ""
}

// classGuide is a class as the Learn and Label pages show it: its key, its
// description and the admin's example images.
type classGuide struct {
	project.Class
	Key      string
	Examples []labelstore.Item
}

func (s *Server) classGuides(ctx context.Context) ([]classGuide, error) {
	ex, err := s.store.ExamplesByClass(ctx)
	if err != nil {
		return nil, err
	}
	var out []classGuide
	for i, c := range s.p.Config().Classes {
		out = append(out, classGuide{Class: c, Key: classKey(i), Examples: ex[c.Name]})
	}
	return out, nil
}
