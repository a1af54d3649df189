package imageio

import (
	"context"
	"fmt"
	"image/color"
	"sync"
)

// Budget bounds the memory that decodes in flight hold together. A decode
// reserves its peak need once the header has told the size, before any
// pixel buffer exists, and waits while the reservations of other decodes
// leave too little: four workers on four 100-megapixel PNGs then take turns
// instead of holding 2.8 GB at once.
type Budget struct {
	total int64

	mu      sync.Mutex
	used    int64
	changed chan struct{} // closed and replaced on every release
}

// NewBudget returns a budget of total bytes.
func NewBudget(total int64) *Budget {
	return &Budget{total: total, changed: make(chan struct{})}
}

// Total is the budget's size in bytes.
func (b *Budget) Total() int64 { return b.total }

// Acquire reserves n bytes, waiting until they fit or ctx ends. A request
// larger than the whole budget could never fit: it fails at once with
// ErrTooLarge, so the file is reported instead of blocking the run.
func (b *Budget) Acquire(ctx context.Context, n int64) error {
	if n > b.total {
		return newErr(ErrTooLarge, "", "decoding needs %s, more than the whole memory budget of %s",
			FormatBytes(n), FormatBytes(b.total))
	}
	for {
		b.mu.Lock()
		if b.used+n <= b.total {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Release returns n bytes reserved by Acquire.
func (b *Budget) Release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// Used is the number of bytes reserved now.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// FormatBytes writes n in binary units: 1.0 GiB, 381.5 MiB.
func FormatBytes(n int64) string {
	const k = 1024
	switch {
	case n >= k*k*k:
		return fmt.Sprintf("%.1f GiB", float64(n)/(k*k*k))
	case n >= k*k:
		return fmt.Sprintf("%.1f MiB", float64(n)/(k*k))
	case n >= k:
		return fmt.Sprintf("%.1f KiB", float64(n)/k)
	}
	return fmt.Sprintf("%d bytes", n)
}

// bytesPerPixel is what the Go decoder's own image holds per pixel for a
// colour model, rounded up for the subsampled ones; unknown models get the
// most any of them uses.
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel: // 4:4:4 at most
		return 3
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

// minBytesPerPixel is the least a decode reserves per pixel it produces:
// the RGB result plus slack for the decoder's own rows and tables.
const minBytesPerPixel = 4
