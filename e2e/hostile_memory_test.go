package e2e

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Four 9,990 x 9,990 PNGs (just under the 100-megapixel limit) decoded by
// four workers used to take featurize to 2.8 GB. With --max-memory 1GiB the
// decodes take turns in what ONNX Runtime and the run's buffers leave of
// the budget: peak RSS stays under the budget plus the model's size (the
// built-in mobilenet-v2, 6 MB).
func TestMemoryBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("writes four 100-megapixel PNGs")
	}
	const side = 9990
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	small := filepath.Join(dir, "small")
	os.MkdirAll(big, 0o755)
	os.MkdirAll(small, 0o755)
	data := bigPNG(t, side)
	for i := range 4 {
		// Distinct files (featurize decodes identical ones once): the same
		// pixels with a different text chunk.
		if err := os.WriteFile(filepath.Join(big, fmt.Sprintf("%d.png", i)), withText(data, fmt.Sprint("copy ", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	smallPNG := bigPNG(t, 300)
	for i := range 4 {
		os.WriteFile(filepath.Join(small, fmt.Sprintf("%d.png", i)), withText(smallPNG, fmt.Sprint("copy ", i)), 0o644)
	}

	flags := []string{"--workers", "4", "--max-memory", "1GiB", "-q"}
	base := peakRSS(t, append([]string{"featurize", small, "-o", filepath.Join(dir, "small.parquet")}, flags...))
	peak := peakRSS(t, append([]string{"featurize", big, "-o", filepath.Join(dir, "big.parquet")}, flags...))
	if rows := len(rowsOf(t, filepath.Join(dir, "big.parquet"))); rows != 4 {
		t.Fatalf("%d rows, want 4: the budget must delay decodes, not drop them", rows)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	const budget = 1 << 30
	st, err := os.Stat(repo(".deps/backbones/mobilenet-v2.onnx"))
	if err != nil {
		t.Skip("the built-in backbones are not installed (make deps)")
	}
	model := st.Size()
	t.Logf("peak RSS: %.0f MiB on four %dx%d PNGs, %.0f MiB on small images (budget %d MiB, model %.1f MiB); load average %s",
		mib(peak), side, side, mib(base), budget>>20, mib(model), strings.TrimSpace(string(load)))
	if peak > budget+model {
		t.Errorf("peak RSS %.0f MiB is over the budget (%d MiB) plus the model (%.1f MiB)", mib(peak), budget>>20, mib(model))
	}
	// The budget is what keeps it there: with room for all four decodes at
	// once, the same run uses more.
	loose := peakRSS(t, []string{"featurize", big, "-o", filepath.Join(dir, "loose.parquet"), "--workers", "4", "--max-memory", "4GiB", "-q"})
	t.Logf("peak RSS with --max-memory 4GiB: %.0f MiB", mib(loose))
	if loose <= peak {
		t.Errorf("with a 4 GiB budget the peak (%.0f MiB) is not above the 1 GiB run's (%.0f MiB): the test does not exercise the budget", mib(loose), mib(peak))
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// peakRSS runs winnow and returns its peak resident set size in bytes: the
// largest VmHWM read from /proc/PID/status while it runs, checked against
// the kernel's ru_maxrss when it exits.
func peakRSS(t *testing.T, args []string) int64 {
	t.Helper()
	cmd := exec.Command(winnow, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var hwm int64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("winnow %v: %v\n%s", args, err, stderr.String())
			}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss*1024 > hwm {
				hwm = ru.Maxrss * 1024 // the last moments, after the final /proc read
			}
			return hwm
		case <-tick.C:
			if v := vmHWM(cmd.Process.Pid); v > hwm {
				hwm = v
			}
		}
	}
}

func vmHWM(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// bigPNG encodes an opaque side x side RGB picture (a gradient, so that it
// is not one flat colour), the kind image/png decodes to 4 bytes a pixel.
func bigPNG(t *testing.T, side int) []byte {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, side, side))
	for y := 0; y < side; y++ {
		row := m.Pix[y*m.Stride : y*m.Stride+4*side]
		c := color.NRGBA{uint8(y), uint8(y >> 8), 128, 255}
		for x := 0; x < side; x++ {
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = c.R, c.G+uint8(x>>6), c.B, c.A
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withText inserts a tEXt chunk before IEND.
func withText(p []byte, text string) []byte {
	body := append([]byte("tEXt"), append([]byte("Comment\x00"), text...)...)
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(body)-4))
	chunk = append(chunk, body...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(body))
	end := len(p) - 12
	out := append([]byte(nil), p[:end]...)
	out = append(out, chunk...)
	return append(out, p[end:]...)
}
