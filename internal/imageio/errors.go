package imageio

import (
	"errors"
	"fmt"
)

// Sentinel errors. Decode wraps them with the detail that explains the
// particular file, so callers test with errors.Is and show err.Error() to the
// user: the sentinel text comes first ("truncated image: jpeg: ...").
var (
	ErrEmpty       = errors.New("empty file")
	ErrTruncated   = errors.New("truncated image") // header valid, pixel data ends early
	ErrNotImage    = errors.New("not an image")
	ErrUnsupported = errors.New("unsupported image format")
	ErrTooLarge    = errors.New("image too large")
	// ErrCorrupt is for files whose signature names a supported format but
	// whose header or data is invalid (including a header that is cut
	// short: ErrTruncated is kept for files whose header was complete, as
	// only those were plausibly whole images). It refines ErrNotImage:
	// errors.Is(err, ErrNotImage) also holds, so a caller that only cares
	// whether it got a usable image need not know about ErrCorrupt.
	ErrCorrupt error = &subError{"corrupt image", ErrNotImage}
)

// subError is a sentinel that is also a more specific kind of another one.
type subError struct {
	msg    string
	parent error
}

func (e *subError) Error() string { return e.msg }
func (e *subError) Unwrap() error { return e.parent }

// decodeError keeps the sentinel (for errors.Is) separate from the detail
// (for the user), and remembers the underlying cause when there is one.
type decodeError struct {
	kind   error
	format string
	detail string
	cause  error
}

func (e *decodeError) Error() string {
	s := e.kind.Error()
	if e.format != "" {
		s += ": " + e.format
	}
	if e.detail != "" {
		s += ": " + e.detail
	}
	return s
}

func (e *decodeError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

func newErr(kind error, format string, detail string, args ...any) error {
	if len(args) > 0 {
		detail = fmt.Sprintf(detail, args...)
	}
	return &decodeError{kind: kind, format: format, detail: detail}
}
