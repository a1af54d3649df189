package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/web/webclient"
)

type webAck struct {
	name  string
	item  int64
	class string
}

// TestWebKillLosesNoAcknowledgedAnswer: 100 participants answer at once,
// the server is killed with SIGKILL mid-way, and every answer it had
// acknowledged with a 2xx is in the database when it comes back; it serves
// the same sessions again.
func TestWebKillLosesNoAcknowledgedAnswer(t *testing.T) {
	proj := webProject(t, webProjectOptions{perClass: 40, gold: 6, batch: 20, pageSize: 5, gate: "off"})
	srv := startServe(t, proj, "kill-token")

	const n = 100
	var (
		mu    sync.Mutex
		acks  []webAck
		total atomic.Int64
		wg    sync.WaitGroup
	)
	parts := make([]*webclient.Participant, n)
	for i := range n {
		p, err := webclient.Join(context.Background(), srv.base, fmt.Sprintf("killed-%03d", i), 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		parts[i] = p
	}
	killed := make(chan struct{})
	for i, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Bounded: at most 60 answers each, and nothing once the server is gone.
			for k := 0; k < 60; k++ {
				item, class := p.Items[(i+k)%len(p.Items)], p.Classes[(i*7+k)%len(p.Classes)]
				code, err := p.Answer(context.Background(), item, class)
				if err != nil {
					return
				}
				if code/100 == 2 {
					mu.Lock()
					acks = append(acks, webAck{p.Name, item, class})
					mu.Unlock()
					total.Add(1)
				} else {
					select {
					case <-killed:
						return
					default:
						t.Errorf("answer refused before the kill: HTTP %d", code)
						return
					}
				}
			}
		}()
	}
	// Kill once a good number of answers are in and many are in flight.
	deadline := time.Now().Add(60 * time.Second)
	for total.Load() < 800 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	close(killed)
	<-srv.done
	wg.Wait()
	if len(acks) < 800 {
		t.Fatalf("only %d answers acknowledged before the kill", len(acks))
	}

	// Restart on the same project: it must serve, and hold every acknowledged answer.
	srv2 := startServe(t, proj, "kill-token")
	st, err := labelstore.Open(filepath.Join(proj, "winnow.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.IntegrityCheck(context.Background()); err != nil {
		t.Fatalf("database after SIGKILL: %v", err)
	}
	round, err := st.CurrentRound(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.RoundAnswers(context.Background(), round.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[webAck]int{}
	for _, r := range rows {
		stored[webAck{r.Participant, int64(r.ItemID), r.Class}]++
	}
	missing := 0
	for _, a := range acks {
		if stored[a] == 0 {
			missing++
			continue
		}
		stored[a]--
	}
	t.Logf("%d answers acknowledged before SIGKILL, %d in the database after restart", len(acks), len(rows))
	if missing > 0 {
		t.Fatalf("%d acknowledged answers are missing after SIGKILL", missing)
	}
	// The old sessions work on the new process, and so does a new one.
	for _, p := range []*webclient.Participant{parts[0], parts[n-1]} {
		p.Base = srv2.base
		if err := p.Refresh(context.Background()); err != nil {
			t.Fatalf("%s after the restart: %v", p.Name, err)
		}
		if code, err := p.Answer(context.Background(), p.Items[0], p.Classes[0]); err != nil || code != 200 {
			t.Fatalf("%s answering after the restart: %d %v", p.Name, code, err)
		}
	}
	late, err := webclient.Join(context.Background(), srv2.base, "after-restart", 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code, err := late.Answer(context.Background(), late.Items[0], late.Classes[0]); err != nil || code != 200 {
		t.Fatalf("a new participant after the restart: %d %v", code, err)
	}
}
