// Package progress reports the advance of long jobs: a redrawn bar on a
// terminal, a log line every few seconds otherwise (CI logs, nohup, Slurm),
// nothing when quiet.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// Bar counts done items out of a known total and reports on its own goroutine,
// so the hot path pays one atomic add per item.
type Bar struct {
	label string
	total int64
	done  atomic.Int64
	start time.Time

	w        io.Writer
	tty      bool
	interval time.Duration
	stop     chan struct{}
	wg       sync.WaitGroup
	now      func() time.Time
}

// Mode selects how a Bar reports.
type Mode int

const (
	Auto  Mode = iota // a bar when w is a terminal, else log lines
	Lines             // log lines every interval
	Quiet             // nothing
)

// New starts reporting to w. Call Finish when the job ends.
func New(w io.Writer, mode Mode, label string, total int) *Bar {
	b := &Bar{label: label, total: int64(total), start: time.Now(), w: w, stop: make(chan struct{}), now: time.Now}
	if mode == Quiet {
		return b
	}
	if mode == Auto && IsTerminal(w) {
		b.tty, b.interval = true, 200*time.Millisecond
	} else {
		b.interval = 5 * time.Second
	}
	b.wg.Add(1)
	go b.loop()
	return b
}

// IsTerminal reports whether w is a terminal: only there may output redraw
// a line with \r and escape codes; a file or a pipe gets plain lines.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Add records n more items done.
func (b *Bar) Add(n int) { b.done.Add(int64(n)) }

// Done is the count so far.
func (b *Bar) Done() int64 { return b.done.Load() }

func (b *Bar) loop() {
	defer b.wg.Done()
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.draw(false)
		}
	}
}

// Finish stops reporting and, on a terminal, leaves the final bar on its line.
func (b *Bar) Finish() {
	if b.interval == 0 {
		return
	}
	select {
	case <-b.stop:
		return
	default:
	}
	close(b.stop)
	b.wg.Wait()
	if b.tty {
		b.draw(true)
		fmt.Fprintln(b.w)
	}
}

func (b *Bar) draw(final bool) {
	fmt.Fprint(b.w, Line(b.label, b.done.Load(), b.total, b.now().Sub(b.start), b.tty))
}

// Line renders one report. On a terminal it starts with a carriage return and
// draws a bar; in a log it is a plain line.
func Line(label string, done, total int64, elapsed time.Duration, tty bool) string {
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	eta := "--:--"
	if rate > 0 && total >= done {
		eta = clock(time.Duration(float64(total-done) / rate * float64(time.Second)))
	}
	pct := 0.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	if !tty {
		return fmt.Sprintf("%s: %d/%d (%.1f%%) %.1f images/s, elapsed %s, ETA %s\n", label, done, total, pct, rate, clock(elapsed), eta)
	}
	const width = 30
	filled := 0
	if total > 0 {
		filled = int(width * done / total)
		if filled > width {
			filled = width
		}
	}
	bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
	return fmt.Sprintf("\r%s %s %d/%d %5.1f%% %7.1f img/s ETA %s \x1b[K", label, bar, done, total, pct, rate, eta)
}

func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
