package featurize

import (
	"context"

	"golang.org/x/sync/semaphore"

	"github.com/winnowml/winnow/internal/backbone"
)

// slots are the CPU threads decoding and inference share (Config.CPU). A
// nil *slots means no limit.
type slots struct{ sem *semaphore.Weighted }

func newSlots(n int) *slots {
	if n <= 0 {
		return nil
	}
	return &slots{semaphore.NewWeighted(int64(n))}
}

func (s *slots) acquire(ctx context.Context, n int) error {
	if s == nil {
		return nil
	}
	return s.sem.Acquire(ctx, int64(n))
}

func (s *slots) release(n int) {
	if s != nil {
		s.sem.Release(int64(n))
	}
}

// maxLanes bounds the batches in inference at once: each holds its input
// and ONNX Runtime's activations, so memory grows with lanes, while beyond
// a few the cores are better spent as threads inside each call.
const maxLanes = 4

// Layout splits threads between inference calls running at once (lanes)
// and ONNX Runtime threads inside each call. One thread a call wastes
// nothing on synchronisation, and calls on different batches keep the
// cores busy where one call's parallel sections would leave them idle, so
// each core gets a lane of its own, up to maxLanes; beyond that the lanes
// share the threads. Threads 0 means the old default: one call, ONNX
// Runtime's own choice of threads.
//
// Decoders need no share of their own: they and the calls draw from the
// same threads slots (Config.Threads), so whichever side has work uses the
// free cores and the two never oversubscribe them.
func Layout(threads int) (lanes, perLane int) {
	if threads <= 0 {
		return 1, 0
	}
	lanes = min(threads, maxLanes)
	return lanes, threads / lanes
}

// ModelOptions are the ONNX Runtime options for a run with Config.Threads
// = threads: one session shared by the lanes when each runs on one thread
// (its caller's), a session per lane when each needs a thread pool of its
// own.
func ModelOptions(threads int) backbone.Options {
	lanes, per := Layout(threads)
	if per <= 1 {
		return backbone.Options{Threads: per, Sessions: 1}
	}
	return backbone.Options{Threads: per, Sessions: lanes}
}
