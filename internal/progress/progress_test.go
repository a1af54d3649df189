package progress

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestLineLog(t *testing.T) {
	got := Line("featurize", 50, 200, 10*time.Second, false)
	for _, want := range []string{"50/200", "25.0%", "5.0 images/s", "ETA 0:30", "elapsed 0:10"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	if !strings.HasSuffix(got, "\n") || strings.Contains(got, "\r") {
		t.Errorf("a log line must be one plain line: %q", got)
	}
}

func TestLineTerminal(t *testing.T) {
	got := Line("featurize", 100, 100, 3700*time.Second, true)
	if !strings.HasPrefix(got, "\r") || strings.Count(got, "█") != 30 || !strings.Contains(got, "100.0%") {
		t.Errorf("full bar: %q", got)
	}
	if got := Line("x", 0, 10, 0, true); !strings.Contains(got, "--:--") || strings.Count(got, "░") != 30 {
		t.Errorf("empty bar: %q", got)
	}
}

func TestQuietWritesNothing(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, Quiet, "x", 10)
	b.Add(10)
	b.Finish()
	if buf.Len() != 0 || b.Done() != 10 {
		t.Fatalf("quiet bar wrote %q, done %d", buf.String(), b.Done())
	}
}

func TestClock(t *testing.T) {
	for d, want := range map[time.Duration]string{59 * time.Second: "0:59", 61 * time.Second: "1:01", 3725 * time.Second: "1:02:05"} {
		if got := clock(d); got != want {
			t.Errorf("clock(%v) = %s, want %s", d, got, want)
		}
	}
}

// A redirected stderr is a file or a pipe: Auto must not draw a bar into it.
func TestIsTerminalFalseForFilesAndPipes(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, out := range map[string]io.Writer{"file": f, "pipe": w, "buffer": &bytes.Buffer{}} {
		if IsTerminal(out) {
			t.Errorf("%s taken for a terminal", name)
		}
	}
	b := New(f, Auto, "x", 10)
	if b.tty {
		t.Error("Auto chose the terminal bar for a file")
	}
	b.Add(10)
	b.Finish()
}
