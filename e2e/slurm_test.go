package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/winnowml/winnow/internal/imageset"
)

// TestSlurm submits deploy/slurm/featurize.sbatch as it is in the
// repository, with only --export and sbatch flags, to a real single-node
// Slurm cluster the test starts (startSlurm): a 4-task array whose task 2
// is cancelled with scancel while it runs (it waits on a download the test
// holds), merge then naming shard 2 as the one to rerun, sbatch --array=2,
// and the merge equal to an unsharded run row for row (path, sha256, size,
// features). Skipped, with the reason, where Slurm and MUNGE are not
// installed or the test is not root.
func TestSlurm(t *testing.T) {
	if why := slurmSkipReason(); why != "" {
		t.Skip("Slurm test skipped: " + why)
	}
	start := time.Now()
	const model, n, victim = "mobilenet-v2", 4, 2
	held := newHeldImage(t)
	var url string
	for k := 0; url == ""; k++ {
		if u := fmt.Sprintf("%s/held-%d.jpg", held.URL, k); imageset.Shard(u, n) == victim {
			url = u
		}
	}
	manifest, want := shardManifest(t, 24, model, url)
	if _, ok := want[url]; !ok {
		t.Fatalf("the unsharded run has no row for %s", url)
	}
	c := startSlurm(t)
	t.Logf("unsharded run and cluster start: %.1f s", time.Since(start).Seconds())

	work := t.TempDir()
	out := filepath.Join(work, "shards") + "/"
	logs := filepath.Join(work, "logs")
	os.Mkdir(logs, 0o755)
	script := repo("deploy/slurm/featurize.sbatch")
	// #SBATCH lines cannot read the environment, so the log folder is a flag.
	flags := []string{
		"--output=" + filepath.Join(logs, "winnow-featurize-%A_%a.log"),
		"--export=ALL,WINNOW_BIN=" + winnow + ",WINNOW_MANIFEST=" + manifest + ",WINNOW_OUT=" + out +
			",WINNOW_MODEL=" + model + ",WINNOW_SHARDS=" + strconv.Itoa(n),
	}
	held.hold()
	job := c.sbatch(append(flags, fmt.Sprintf("--array=0-%d", n-1), script)...)
	select {
	case <-held.reached:
	case <-time.After(2 * time.Minute):
		t.Fatalf("task %d never asked for %s\n%s\n%s", victim, url, jobLogs(logs), c.logs())
	}
	if st := c.tasks(job)[victim]["JobState"]; st != "RUNNING" {
		t.Fatalf("task %d is %s while its download is held, want RUNNING", victim, st)
	}
	// Teardown finds a job's processes by the marker: check it would.
	if got := c.running(); got["slurmstepd"] == 0 || got["winnow"] == 0 {
		t.Errorf("processes with the cluster's marker while task %d runs: %v, want slurmstepd and winnow among them", victim, got)
	}
	if _, err := c.client("scancel", fmt.Sprintf("%s_%d", job, victim)); err != nil {
		t.Fatal(err)
	}
	c.waitJob(job, 2*time.Minute)
	tasks := c.tasks(job)
	for i := range n {
		rec, wantState := tasks[i], "COMPLETED"
		if i == victim {
			wantState = "CANCELLED"
		}
		if rec["JobState"] != wantState {
			t.Errorf("task %d: %s (exit %s), want %s\n%s", i, rec["JobState"], rec["ExitCode"], wantState, jobLogs(logs))
		}
		// The file's own #SBATCH lines, past its comments, were read.
		if rec["JobName"] != "winnow-featurize" || rec["CPUs/Task"] != "2" || rec["TimeLimit"] != "04:00:00" {
			t.Errorf("task %d: JobName=%s CPUs/Task=%s TimeLimit=%s, want the file's winnow-featurize, 2, 04:00:00",
				i, rec["JobName"], rec["CPUs/Task"], rec["TimeLimit"])
		}
	}
	for i := range n {
		if i != victim {
			taskLog(t, logs, job, i, fmt.Sprintf("featurize: shard %d of %d:", i, n))
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	_, stderr, code := run(t, "features", "merge", out, "-o", filepath.Join(work, "early.parquet"), "--manifest", manifest)
	if code == 0 || !strings.Contains(stderr, fmt.Sprintf("shard %d of %d missing", victim, n)) || !strings.Contains(stderr, fmt.Sprintf("rerun index %d", victim)) {
		t.Fatalf("merge with task %d cancelled: exit %d, want a failure naming shard %d\n%s", victim, code, victim, stderr)
	}

	held.release()
	rerun := c.sbatch(append(flags, fmt.Sprintf("--array=%d", victim), script)...)
	c.waitJob(rerun, 2*time.Minute)
	if st := c.tasks(rerun)[victim]; st["JobState"] != "COMPLETED" {
		t.Fatalf("rerun of task %d: %s (exit %s)\n%s", victim, st["JobState"], st["ExitCode"], jobLogs(logs))
	}
	taskLog(t, logs, rerun, victim, fmt.Sprintf("featurize: shard %d of %d:", victim, n))
	mergeAndCompare(t, "slurm", out, manifest, want)
	t.Logf("Slurm test: %.1f s in all", time.Since(start).Seconds())
}

// taskLog checks that the task's --output file holds want.
func taskLog(t *testing.T, dir, job string, task int, want string) {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("winnow-featurize-%s_%d.log", job, task))
	b, err := os.ReadFile(p)
	if err != nil || !strings.Contains(string(b), want) {
		t.Errorf("%s: %v, want a line with %q\n%s", filepath.Base(p), err, want, b)
	}
}

func jobLogs(dir string) string {
	var b strings.Builder
	names, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, p := range names {
		data, _ := os.ReadFile(p)
		fmt.Fprintf(&b, "--- %s\n%s", filepath.Base(p), data)
	}
	return b.String()
}

// heldImage serves one photo. Once held, a request waits until release
// (or until the client goes away) and reached is closed at the first such
// request: the task that asks is then running, mid-way through its shard.
type heldImage struct {
	*httptest.Server
	reached chan struct{}
	once    sync.Once
	mu      sync.Mutex
	gate    chan struct{} // nil: serve at once
}

func newHeldImage(t *testing.T) *heldImage {
	t.Helper()
	photos, _ := filepath.Glob(repo("testdata/images/photos/*.jpg"))
	if len(photos) == 0 {
		t.Fatal("no photo in testdata/images/photos")
	}
	body, err := os.ReadFile(photos[0])
	if err != nil {
		t.Fatal(err)
	}
	h := &heldImage{reached: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		gate := h.gate
		h.mu.Unlock()
		if gate != nil {
			h.once.Do(func() { close(h.reached) })
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		w.Write(body)
	}))
	t.Cleanup(func() { h.release(); h.Close() })
	return h
}

func (h *heldImage) hold() {
	h.mu.Lock()
	h.gate = make(chan struct{})
	h.mu.Unlock()
}

func (h *heldImage) release() {
	h.mu.Lock()
	if h.gate != nil {
		close(h.gate)
		h.gate = nil
	}
	h.mu.Unlock()
}
