package e2e

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/winnowml/winnow/internal/fmnist"
	"github.com/winnowml/winnow/internal/web/webclient"
)

// webClasses are the Fashion-MNIST classes the website tests use, with the
// descriptions the Learn page shows.
var webClasses = []webClass{
	{0, "t-shirt", "A short-sleeved top without a collar.", -1},
	{1, "trouser", "Two legs, seen from the front.", -1},
	{7, "sneaker", "A low sports shoe, seen from the side.", -1},
	{8, "bag", "A handbag or shopping bag, with or without handles.", -1},
}

// webClass is a project class made of one Fashion-MNIST label: all its
// images, or with parity 0 or 1 only the even or odd ones, so that one
// label can make two classes when a test needs more than ten.
type webClass struct {
	label       uint8
	name, about string
	parity      int // -1 every image; 0 even, 1 odd indices
}

type webProjectOptions struct {
	classes  []webClass // nil: webClasses
	perClass int        // images per class
	gold     int    // gold labels per class (split by init into practice and test)
	batch    int    // images per round
	pageSize int    // practice page size
	gate     string // practice gate
}

// webProject exports real Fashion-MNIST PNGs into the test's temp folder
// and makes a project of them with `winnow init`, as a user would.
func webProject(t testing.TB, o webProjectOptions) string {
	t.Helper()
	if !fmnist.Available(fmnist.Dir) {
		t.Skip("dataset-fashion-mnist is not installed (make deps installs it)")
	}
	dir := t.TempDir()
	images := filepath.Join(dir, "images")
	set, err := fmnist.Load(fmnist.Dir, "t10k", 3000)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "gold.csv"))
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.Write([]string{"path", "label"})
	var names []string
	args := []string{"init", filepath.Join(dir, "proj"), "--images", images, "--batch", fmt.Sprint(o.batch),
		"--title", "Fashion check", "-q"}
	classes := o.classes
	if classes == nil {
		classes = webClasses
	}
	n := map[string]int{}
	for _, c := range classes {
		names = append(names, c.name)
		args = append(args, "--describe", c.name+"="+c.about)
	}
	for i, l := range set.Labels {
		for _, c := range classes {
			if c.label != l || n[c.name] >= o.perClass || (c.parity >= 0 && i%2 != c.parity) {
				continue
			}
			rel := fmt.Sprintf("%s/%04d.png", c.name, i)
			if err := set.WritePNG(i, filepath.Join(images, rel)); err != nil {
				t.Fatal(err)
			}
			if n[c.name] < o.gold {
				w.Write([]string{rel, c.name})
			}
			n[c.name]++
		}
	}
	w.Flush()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	args = append(args, "--classes", strings.Join(names, ","), "--gold", filepath.Join(dir, "gold.csv"))
	if _, stderr, code := run(t, args...); code != 0 {
		t.Fatalf("winnow init: exit %d\n%s", code, stderr)
	}
	proj := filepath.Join(dir, "proj")
	// Practice settings are the admin's to edit in winnow.toml.
	toml := filepath.Join(proj, "winnow.toml")
	data, err := os.ReadFile(toml)
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`(?m)^page_size = \d+$`).ReplaceAllString(string(data), fmt.Sprintf("page_size = %d", o.pageSize))
	s = regexp.MustCompile(`(?m)^gate = ".*"$`).ReplaceAllString(s, fmt.Sprintf("gate = %q", o.gate))
	if s == string(data) && (o.pageSize != 10 || o.gate != "all-correct") {
		t.Fatal("winnow.toml has no page_size or gate line to edit")
	}
	if err := os.WriteFile(toml, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return proj
}

// served is a `winnow serve` child process on a free loopback port.
type served struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:PORT
	done chan error
	logs *syncWriter
}

// startServe runs `winnow serve` on 127.0.0.1 with port 0 (the kernel picks a
// free one; serve prints it) and stops it when the test ends.
func startServe(t testing.TB, proj, token string) *served {
	t.Helper()
	cmd := exec.Command(winnow, "serve", proj, "--addr", "127.0.0.1:0", "--admin-token", token)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &served{cmd: cmd, done: make(chan error, 1), logs: &syncWriter{w: &strings.Builder{}}}
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := webclient.ParticipantsURL.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case s.base = <-found:
	case err := <-s.done:
		t.Fatalf("winnow serve exited: %v\n%s", err, s.logs)
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("winnow serve printed no URL in 20 s")
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop ends the server with SIGTERM (a graceful shutdown), or SIGKILL if it
// does not end in time.
func (s *served) stop(t testing.TB) {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		t.Errorf("winnow serve did not stop within 15 s of SIGTERM")
	}
}

// syncWriter collects the server's stderr for failure messages.
type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (w *syncWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.String()
}

func webContext(t testing.TB) (context.Context, context.CancelFunc) {
	t.Helper()
	return context.WithTimeout(context.Background(), 150*time.Second)
}
