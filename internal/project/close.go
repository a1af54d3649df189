package project

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/winnowml/winnow/internal/labelstore"
)

// Version is recorded in the models a project trains; the winnow command
// sets it to its own version.
var Version = "dev"

// CloseProgress is what CloseRound is doing, for the admin page to poll.
type CloseProgress struct {
	Running     bool
	Stage       string // "consensus", "train", "evaluate", "select", "open", "done"
	Done, Total int    // stages done of Total
	Err         string // the last close's error, "" if it succeeded
}

// Progress returns the state of the running (or last) CloseRound.
func (p *Project) Progress() CloseProgress {
	p.progMu.Lock()
	defer p.progMu.Unlock()
	return p.progress
}

func (p *Project) setProgress(f func(*CloseProgress)) {
	p.progMu.Lock()
	f(&p.progress)
	p.progMu.Unlock()
}

// CloseResult is what a CloseRound did.
type CloseResult struct {
	Closed labelstore.Round  // the round closed
	Next   *labelstore.Round // the round opened; nil when the pool is used up
	// Counts over the closed round's picks, by consensus status
	// (labelstore.Labelled, Tie, NoneOfThem, Flagged, Unanswered).
	Status map[string]int
	// Ties are the closed round's picks whose top answers tied: left
	// unlabelled, for the admin to settle (e.g. with import-labels).
	Ties      []labelstore.Decision
	TrainRows int                      // labelled rows the model trained on
	Model     string                   // model file, "" if none was trained
	Metrics   *labelstore.RoundMetrics // nil without a model
	// Steps are the stages that ran, in order, with their notes: a caller
	// printing results stage by stage puts each note beside the result it
	// explains, in the order things happened.
	Steps []Step
	Notes []string // every step's notes, in order
}

// Step is one stage of a close ("consensus", "train", "evaluate",
// "select", "open") and its notes.
type Step struct {
	Stage string
	Notes []string
}

func (r *CloseResult) note(stage string, notes ...string) {
	r.Steps = append(r.Steps, Step{Stage: stage, Notes: notes})
	r.Notes = append(r.Notes, notes...)
}

// ErrClosing is returned by CloseRound while another close runs.
var ErrClosing = errors.New("a round close is already running")

// ErrNoRound is returned by CloseRound when no round is open.
var ErrNoRound = errors.New("no round is open")

// CloseRound closes the current round: it stops taking its answers
// (Record returns labelstore.ErrRoundClosed from here on), builds the
// consensus (gold wins; majority over participants; ties, "none of these"
// and flagged left out and counted), writes the training labels, retrains,
// evaluates on the gold test items, selects the next batch with the
// project's strategy and opens the next round.
//
// It runs synchronously; the web runs it in a goroutine and polls
// Progress. Cancelling ctx stops it between stages and reopens the round,
// as does any error; a process killed mid-way leaves the round "closing",
// and the next CloseRound resumes it.
func (p *Project) CloseRound(ctx context.Context) (res *CloseResult, err error) {
	if !p.closeMu.TryLock() {
		return nil, ErrClosing
	}
	defer p.closeMu.Unlock()
	// The round's state cannot tell a close running in another process
	// (winnow round close beside winnow serve) from one that was killed
	// and should be resumed; a lock the kernel drops with its process can.
	unlock, err := lockFile(p.path(".close.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	const total = 5
	p.setProgress(func(pr *CloseProgress) { *pr = CloseProgress{Running: true, Stage: "consensus", Total: total} })
	defer func() {
		p.setProgress(func(pr *CloseProgress) {
			pr.Running = false
			if err != nil {
				pr.Err = err.Error()
			} else {
				pr.Stage, pr.Done = "done", total
			}
		})
	}()
	setStage := func(stage string, done int) {
		p.setProgress(func(pr *CloseProgress) { pr.Stage, pr.Done = stage, done })
	}

	cur, err := p.store.CurrentRound(ctx)
	if errors.Is(err, labelstore.ErrNotFound) {
		return nil, ErrNoRound
	}
	if err != nil {
		return nil, err
	}
	if cur.State == labelstore.StateOpen {
		if err := p.store.BeginClose(ctx, cur.ID); err != nil {
			return nil, err
		}
		cur.State = labelstore.StateClosing
	}
	defer func() {
		if err != nil {
			// The round takes answers again; a later close starts over.
			if aerr := p.store.AbortClose(context.WithoutCancel(ctx), cur.ID); aerr != nil {
				err = fmt.Errorf("%w (and reopening round %d failed: %v)", err, cur.Number, aerr)
			}
		}
	}()

	ds, err := p.consensus(ctx)
	if err != nil {
		return nil, err
	}
	res = &CloseResult{Closed: *cur, Status: map[string]int{}}
	picked := map[labelstore.ItemID]bool{}
	for _, id := range cur.Picks {
		picked[id] = true
	}
	for _, d := range ds {
		if picked[d.Item.ID] {
			res.Status[d.Status]++
			if d.Status == labelstore.Tie {
				res.Ties = append(res.Ties, d)
			}
		}
	}
	res.note("consensus")
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := p.trainAndEvaluate(ctx, cur.Number, ds, setStage)
	if err != nil {
		return nil, err
	}
	res.TrainRows, res.Metrics = t.rows, t.metrics
	res.note("train", t.notes[:t.evalNotes]...)
	if t.model != nil {
		res.note("evaluate", t.notes[t.evalNotes:]...)
	}
	if t.modelRel != "" {
		res.Model = p.path(t.modelRel)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	setStage("select", 4)
	next, notes, err := p.selectNext(ctx, cur.Number+1, ds, t)
	if err != nil {
		return nil, err
	}
	res.note("select", notes...)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	setStage("open", 5)
	// Past this point nothing is cancelled: closing and opening are one
	// transaction.
	res.Next, err = p.store.FinishClose(context.WithoutCancel(ctx), cur.ID, next)
	if err != nil {
		return nil, err
	}
	res.note("open")
	res.Closed.State = labelstore.StateClosed
	return res, nil
}

func ensureDir(dir string) error { return os.MkdirAll(dir, 0o755) }

// lockFile takes an exclusive, non-blocking flock on path; ErrClosing if
// another process holds it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (in another process)", ErrClosing)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
