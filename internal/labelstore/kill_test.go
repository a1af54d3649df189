package labelstore

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

const killEnv = "LABELSTORE_KILL_CHILD_DB"

// TestRecordSurvivesSIGKILL runs writers in a child process (this test
// binary again), which prints the id of every answer Record acknowledged;
// the parent kills it with SIGKILL mid-stream and checks that every
// acknowledged answer is in the database and the database is intact.
func TestRecordSurvivesSIGKILL(t *testing.T) {
	if os.Getenv(killEnv) != "" {
		t.Skip("in the child")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "winnow.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	setup(t, s, 50, "sound", "dry", "encased")
	s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), killEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type ack struct {
		session, item int64
		class         string
	}
	acked := map[int64]ack{}
	sc := bufio.NewScanner(out)
	const killAfter = 3000 // past a WAL checkpoint (every 1000 pages)
	killed := false
	deadline := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		var id int64
		var a ack
		if _, err := fmt.Sscanf(sc.Text(), "ack %d %d %d %s", &id, &a.session, &a.item, &a.class); err != nil {
			continue // test framework chatter
		}
		acked[id] = a
		if !killed && len(acked) >= killAfter {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("the child stopped after %d acknowledged answers without being killed: %v", len(acked), err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL", cmd.ProcessState)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatalf("reopening after SIGKILL: %v", err)
	}
	defer s.Close()
	if err := s.IntegrityCheck(bg); err != nil {
		t.Fatal(err)
	}
	var total int
	s.DB().QueryRow(`SELECT COUNT(*) FROM answers`).Scan(&total)
	for id, a := range acked {
		var got ack
		err := s.DB().QueryRow(`SELECT session_id, item_id, class FROM answers WHERE id = ?`, id).Scan(&got.session, &got.item, &got.class)
		if err != nil {
			t.Fatalf("acknowledged answer %d lost after SIGKILL: %v", id, err)
		}
		if got != a {
			t.Fatalf("answer %d reads back as %+v, acknowledged as %+v", id, got, a)
		}
	}
	if total < len(acked) {
		t.Fatalf("%d answers in the database, %d acknowledged", total, len(acked))
	}
	t.Logf("%d answers acknowledged before SIGKILL, all present; %d in the database", len(acked), total)
}

// TestKillChild is the child of TestRecordSurvivesSIGKILL: it records until
// killed.
func TestKillChild(t *testing.T) {
	path := os.Getenv(killEnv)
	if path == "" {
		t.Skip("only run as the child of TestRecordSurvivesSIGKILL")
	}
	s, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	r, err := s.CurrentRound(bg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	classes := []string{"sound", "dry", "encased"}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess, err := s.NewSession(bg, fmt.Sprintf("writer %d", g))
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			for i := 0; ; i++ {
				item := r.Picks[(g*7+i)%len(r.Picks)]
				class := classes[(g+i)%len(classes)]
				id, err := s.Record(bg, Answer{SessionID: sess.ID, ItemID: item, RoundID: r.ID, Kind: KindLabel, Class: class})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				// One write per line: a pipe write this short is atomic, so
				// the parent never reads half an acknowledgement.
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %d %d %d %s\n", id, sess.ID, item, class)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
