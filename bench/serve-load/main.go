// Command serve-load measures `winnow serve` under many participants
// answering at once, over loopback HTTP only:
//
//	go run ./bench/serve-load                          # builds a small Fashion-MNIST project, starts bin/winnow serve
//	go run ./bench/serve-load -think 0                 # no pause between answers: the server's saturation point
//	go run ./bench/serve-load -url http://127.0.0.1:8080 -project DIR   # a server already running on DIR
//
// Each participant starts a session on the About page's form, reads its
// queue, then answers its round's images one after the other (a random
// class), pausing -think between answers as a person would. Only the answer
// POSTs are timed. At the end every acknowledged (2xx) answer is looked up
// in the project's database: the count check.
package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/winnowml/winnow/internal/fmnist"
	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/web/webclient"
)

func main() {
	var (
		target       = flag.String("url", "", "a running server (loopback only); default: start one")
		project      = flag.String("project", "", "the project's folder (default: build one in a temp folder)")
		bin          = flag.String("winnow", "bin/winnow", "the winnow binary that builds and serves the project")
		participants = flag.Int("participants", 200, "concurrent participants")
		answers      = flag.Int("answers", 20, "answers per participant")
		think        = flag.Duration("think", time.Second, "mean pause between a participant's answers (uniform 0..2x)")
		limit        = flag.Duration("duration", 3*time.Minute, "stop after this long whatever is left")
	)
	flag.Parse()
	log.SetFlags(0)
	if *target != "" {
		u, err := url.Parse(*target)
		if err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1") {
			log.Fatalf("-url %q: only a loopback server is allowed", *target)
		}
		if *project == "" {
			log.Fatal("-url needs -project, to check the answers in its database")
		}
	}
	if *project == "" {
		dir, err := os.MkdirTemp("", "serve-load")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		*project = filepath.Join(dir, "proj")
		if err := buildProject(*bin, dir, *project, *answers); err != nil {
			log.Fatal(err)
		}
	}
	pid := 0
	if *target == "" {
		stop, base, p, err := serve(*bin, *project)
		if err != nil {
			log.Fatal(err)
		}
		defer stop()
		*target, pid = base, p
	}

	fmt.Printf("load average before: %s\n", loadavg())
	ctx, cancel := context.WithTimeout(context.Background(), *limit)
	defer cancel()
	cpu0 := cpuTime(pid)
	res := run(ctx, *target, *participants, *answers, *think)
	cpu := cpuTime(pid) - cpu0
	fmt.Printf("load average after:  %s\n", loadavg())
	report(res, *participants, *think)
	if pid != 0 && len(res.acks) > 0 {
		// The server's own CPU per request (sessions, queues and answers),
		// which other jobs on the machine do not inflate.
		fmt.Printf("server CPU %.2f s over the run: %.2f ms per acknowledged answer\n",
			cpu.Seconds(), float64(cpu.Microseconds())/1000/float64(len(res.acks)))
	}
	if err := check(*project, res); err != nil {
		log.Fatal(err)
	}
}

// buildProject makes a project as a user would: Fashion-MNIST PNGs, gold
// labels, `winnow init`, then the practice gate off (this measures labelling).
func buildProject(bin, dir, proj string, batch int) error {
	set, err := fmnist.Load(fmnist.Dir, "t10k", 400)
	if err != nil {
		return err
	}
	images := filepath.Join(dir, "images")
	f, err := os.Create(filepath.Join(dir, "gold.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"path", "label"})
	for i := range set.Images {
		rel := fmt.Sprintf("%s/%04d.png", fmnist.Classes[set.Labels[i]], i)
		if err := set.WritePNG(i, filepath.Join(images, rel)); err != nil {
			return err
		}
		if i < 100 {
			w.Write([]string{rel, fmnist.Classes[set.Labels[i]]})
		}
	}
	w.Flush()
	f.Close()
	cmd := exec.Command(bin, "init", proj, "--images", images, "--classes", strings.Join(fmnist.Classes, ","),
		"--gold", filepath.Join(dir, "gold.csv"), "--batch", fmt.Sprint(batch), "-q")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("winnow init: %w", err)
	}
	toml := filepath.Join(proj, "winnow.toml")
	data, err := os.ReadFile(toml)
	if err != nil {
		return err
	}
	off := regexp.MustCompile(`(?m)^gate = ".*"$`).ReplaceAll(data, []byte(`gate = "off"`))
	return os.WriteFile(toml, off, 0o644)
}

// serve starts `winnow serve` on a free loopback port.
func serve(bin, proj string) (func(), string, int, error) {
	cmd := exec.Command(bin, "serve", proj, "--addr", "127.0.0.1:0", "--admin-token", "serve-load")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", 0, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", 0, err
	}
	buf := make([]byte, 4096)
	var got string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		n, err := out.Read(buf)
		got += string(buf[:n])
		if m := webclient.ParticipantsURL.FindStringSubmatch(got); m != nil {
			go io.Copy(io.Discard, out)
			stop := func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }
			return stop, m[1], cmd.Process.Pid, nil
		}
		if err != nil {
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return nil, "", 0, fmt.Errorf("winnow serve printed no URL: %q", got)
}

type ack struct {
	name  string
	item  int64
	class string
}

type result struct {
	latencies []time.Duration // of acknowledged answers
	acks      []ack
	failures  map[string]int
	elapsed   time.Duration
}

func run(ctx context.Context, base string, n, answers int, think time.Duration) *result {
	res := &result{failures: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ready := make(chan struct{})
	var startWG sync.WaitGroup
	startWG.Add(n)
	var t0 time.Time
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := webclient.Join(ctx, base, fmt.Sprintf("load-%03d", i), 30*time.Second)
			startWG.Done()
			if err != nil {
				mu.Lock()
				res.failures["session: "+err.Error()]++
				mu.Unlock()
				return
			}
			<-ready // everyone starts answering together
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for k := 0; k < answers && ctx.Err() == nil; k++ {
				if think > 0 {
					sleep(ctx, time.Duration(rng.Int64N(int64(2*think))))
				}
				item := p.Items[k%len(p.Items)]
				class := p.Classes[rng.IntN(len(p.Classes))]
				t := time.Now()
				err := answer(ctx, p, item, class)
				d := time.Since(t)
				mu.Lock()
				if err != nil {
					res.failures[err.Error()]++
				} else {
					res.latencies = append(res.latencies, d)
					res.acks = append(res.acks, ack{p.Name, item, class})
				}
				mu.Unlock()
			}
		}()
	}
	startWG.Wait()
	t0 = time.Now()
	close(ready)
	wg.Wait()
	res.elapsed = time.Since(t0)
	return res
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// participant is one browser: its own cookie jar and connection.
// answer posts one answer and turns anything but an acknowledgement into an
// error that names the kind of failure (the failures table counts them).
func answer(ctx context.Context, p *webclient.Participant, item int64, class string) error {
	code, err := p.Answer(ctx, item, class)
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("stopped by -duration")
		}
		return errors.New("transport error")
	}
	if code/100 != 2 {
		return fmt.Errorf("HTTP %d", code)
	}
	return nil
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}

func report(r *result, n int, think time.Duration) {
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	fmt.Printf("participants %d, think time mean %v (uniform 0..%v)\n", n, think, 2*think)
	fmt.Printf("answers acknowledged %d in %.1f s: %.0f answers/s\n", len(r.acks), r.elapsed.Seconds(),
		float64(len(r.acks))/r.elapsed.Seconds())
	fmt.Printf("latency p50 %s, p90 %s, p99 %s, max %s\n", ms(pct(r.latencies, .5)), ms(pct(r.latencies, .9)),
		ms(pct(r.latencies, .99)), ms(pct(r.latencies, 1)))
	for k, v := range r.failures {
		fmt.Printf("failed: %d x %s\n", v, k)
	}
}

// check finds every acknowledged answer in the database.
func check(proj string, r *result) error {
	st, err := labelstore.Open(filepath.Join(proj, "winnow.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	round, err := st.CurrentRound(ctx)
	if err != nil {
		return err
	}
	rows, err := st.RoundAnswers(ctx, round.ID)
	if err != nil {
		return err
	}
	stored := map[ack]int{}
	for _, a := range rows {
		stored[ack{a.Participant, int64(a.ItemID), a.Class}]++
	}
	missing := 0
	for _, a := range r.acks {
		if stored[a] == 0 {
			missing++
			continue
		}
		stored[a]--
	}
	fmt.Printf("count check: %d acknowledged, %d answers in the database, %d acknowledged but missing\n",
		len(r.acks), len(rows), missing)
	if missing > 0 {
		return fmt.Errorf("%d acknowledged answers are not in the database", missing)
	}
	return nil
}

// cpuTime is the user+system CPU time of process pid (0 when unknown),
// from /proc/PID/stat in clock ticks of 10 ms (Linux's USER_HZ of 100).
func cpuTime(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}
