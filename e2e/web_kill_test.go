package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/winnowml/winnow/internal/labelstore"
)

// webParticipant is one browser talking plain HTTP: a cookie jar and the
// session's CSRF token.
type webParticipant struct {
	name, base, csrf string
	round            int64
	items            []int64
	classes          []string
	hc               *http.Client
}

var webCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (p *webParticipant) do(method, path string, form url.Values) (string, int, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, p.base+path, body)
	if err != nil {
		return "", 0, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json, text/html")
	resp, err := p.hc.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

// join starts a session as the About page's form does and reads the queue.
func webJoin(base, name string) (*webParticipant, error) {
	jar, _ := cookiejar.New(nil)
	p := &webParticipant{name: name, base: base, hc: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	body, _, err := p.do("GET", "/", nil)
	if err != nil {
		return nil, err
	}
	m := webCSRF.FindStringSubmatch(body)
	if m == nil {
		return nil, fmt.Errorf("no CSRF field on the start page")
	}
	if _, code, err := p.do("POST", "/session", url.Values{"csrf": {m[1]}, "name": {name}}); err != nil || code != http.StatusSeeOther {
		return nil, fmt.Errorf("POST /session: %d %v", code, err)
	}
	return p, p.refresh()
}

func (p *webParticipant) refresh() error {
	body, code, err := p.do("GET", "/api/queue", nil)
	if err != nil || code != 200 {
		return fmt.Errorf("GET /api/queue: %d %v", code, err)
	}
	var q struct {
		Round   int64    `json:"round"`
		CSRF    string   `json:"csrf"`
		Locked  bool     `json:"locked"`
		Classes []string `json:"classes"`
		Items   []struct {
			ID     int64  `json:"id"`
			Answer string `json:"answer"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &q); err != nil {
		return err
	}
	if q.Locked || len(q.Items) == 0 {
		return fmt.Errorf("nothing to label: locked %v, %d items", q.Locked, len(q.Items))
	}
	p.csrf, p.round, p.classes, p.items = q.CSRF, q.Round, q.Classes, nil
	for _, it := range q.Items {
		p.items = append(p.items, it.ID)
	}
	return nil
}

func (p *webParticipant) answer(item int64, class string) (int, error) {
	_, code, err := p.do("POST", "/label", url.Values{"csrf": {p.csrf}, "round": {fmt.Sprint(p.round)},
		"item": {fmt.Sprint(item)}, "class": {class}})
	return code, err
}

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
	parts := make([]*webParticipant, n)
	for i := range n {
		p, err := webJoin(srv.base, fmt.Sprintf("killed-%03d", i))
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
				item, class := p.items[(i+k)%len(p.items)], p.classes[(i*7+k)%len(p.classes)]
				code, err := p.answer(item, class)
				if err != nil {
					return
				}
				if code/100 == 2 {
					mu.Lock()
					acks = append(acks, webAck{p.name, item, class})
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
	for _, p := range []*webParticipant{parts[0], parts[n-1]} {
		p.base = srv2.base
		if err := p.refresh(); err != nil {
			t.Fatalf("%s after the restart: %v", p.name, err)
		}
		if code, err := p.answer(p.items[0], p.classes[0]); err != nil || code != 200 {
			t.Fatalf("%s answering after the restart: %d %v", p.name, code, err)
		}
	}
	late, err := webJoin(srv2.base, "after-restart")
	if err != nil {
		t.Fatal(err)
	}
	if code, err := late.answer(late.items[0], late.classes[0]); err != nil || code != 200 {
		t.Fatalf("a new participant after the restart: %d %v", code, err)
	}
}
