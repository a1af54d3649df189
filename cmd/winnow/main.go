// Command winnow builds an image classifier from a few hundred labels:
// featurize images with a pretrained CNN, train a regularised linear model on
// the features, and pick the next images worth labelling.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"
)

func main() {
	ctx, sig := signalContext()
	err := newRootCmd().ExecuteContext(ctx)
	if s := sig(); s != nil {
		// Shells and supervisors read 128+n as "ended by signal n"; a verb
		// that stopped because of the signal must not look like a plain
		// failure (1) or, worse, a success.
		if err != nil {
			fmt.Fprintf(os.Stderr, "winnow: stopped by %s: %s\n", signalName(s), printable(err.Error(), true))
			os.Exit(128 + int(s.(syscall.Signal)))
		}
		// The verb finished its outputs before it noticed: they are whole.
		fmt.Fprintf(os.Stderr, "winnow: %s arrived as the run finished; its outputs are complete\n", signalName(s))
	}
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, "winnow:", printable(ee.msg, true))
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "winnow:", printable(err.Error(), true))
		os.Exit(1)
	}
}

// signalContext returns a context cancelled by the first SIGINT or SIGTERM,
// and a function telling which one arrived (nil if none). A second signal
// ends the process at once: a verb stuck in a long native call (one
// inference batch) must not make Ctrl-C look ignored.
func signalContext() (context.Context, func() os.Signal) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	got := make(chan os.Signal, 1)
	go func() {
		s := <-ch
		got <- s
		cancel(fmt.Errorf("%s", signalName(s)))
		s2 := <-ch
		fmt.Fprintf(os.Stderr, "winnow: second %s: exiting now\n", signalName(s2))
		os.Exit(128 + int(s2.(syscall.Signal)))
	}()
	return ctx, func() os.Signal {
		select {
		case s := <-got:
			got <- s
			return s
		default:
			return nil
		}
	}
}

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// exitError ends the program with a specific status.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// printable escapes the control characters of s (as Go does in a quoted
// string: \x1b, \r, \u0085) and the bytes that are not UTF-8, so that a file
// name cannot drive the terminal (colours, cursor moves, a forged line).
// keepNewlines keeps '\n' for messages laid out on several lines.
func printable(s string, keepNewlines bool) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case isControl(r, keepNewlines):
			q := strconv.QuoteRune(r) // '\x1b'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func isControl(r rune, keepNewlines bool) bool {
	switch {
	case r == '\n':
		return !keepNewlines
	case r == '\t':
		return false
	}
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x2028 || r == 0x2029
}

// usageError is a bad flag value: status 2, like cobra's own usage errors.
func usageError(format string, args ...any) error {
	return exitError{code: 2, msg: fmt.Sprintf(format, args...)}
}

// firstError returns the first non-nil error, so a verb checks all its
// numeric flags in one statement before doing any work.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// intAtLeast and the functions below check a numeric flag and name its
// range in the message: a 0 or negative count must not reach a make() or a
// loop bound, where it panics or silently means something else.
func intAtLeast(flag string, v, min int) error {
	if v < min {
		return usageError("%s %d: must be at least %d", flag, v, min)
	}
	return nil
}

func int64Between(flag string, v, min, max int64) error {
	if v < min || v > max {
		return usageError("%s %d: must be between %d and %d", flag, v, min, max)
	}
	return nil
}

func floatBetween(flag string, v, min, max float64) error {
	if !(v >= min && v <= max) { // also refuses NaN
		return usageError("%s %v: must be between %v and %v", flag, v, min, max)
	}
	return nil
}

// printableWriter escapes control characters in everything written through
// it (see printable), keeping line breaks: for the log lines of a verb, each
// written whole, that echo paths and names from its inputs.
type printableWriter struct{ w io.Writer }

func (p printableWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, printable(string(b), true)); err != nil {
		return 0, err
	}
	return len(b), nil
}
