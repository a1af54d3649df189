package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/fmnist"
)

// imageServer serves real images over HTTP on loopback, with the failures a
// real image host has: missing files, files slower than any sane timeout,
// a server that answers 500 to every other request, damaged files.
type imageServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func (s *imageServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// remoteSet is what the test serves and what it expects back.
type remoteSet struct {
	manifest string            // the manifest file
	entries  []string          // its lines
	kind     map[string]string // entry -> expected error kind ("" = a row)
	srv      *imageServer
	s3env    []string
}

const (
	nImages  = 260
	nMissing = 8
	nSlow    = 4
	nFlaky   = 20
	nCorrupt = 8
)

// newRemoteSet writes a manifest mixing http URLs, s3:// objects and local
// paths over Fashion-MNIST PNGs and the repository's photos.
func newRemoteSet(t *testing.T) *remoteSet {
	t.Helper()
	if !fmnist.Available(fmnist.Dir) {
		t.Skip("dataset-fashion-mnist is not installed (make deps installs it)")
	}
	set, err := fmnist.Load(fmnist.Dir, "t10k", nImages)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	files := map[string][]byte{} // served path -> bytes
	for i := range set.Images {
		p := filepath.Join(work, "png", fmt.Sprintf("%d.png", i))
		if err := set.WritePNG(i, p); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		files[fmt.Sprintf("/fm/%s/%05d.png", fmnist.Classes[set.Labels[i]], i)] = b
	}
	photos, _ := filepath.Glob(repo("testdata/images/photos/*.jpg"))
	for _, p := range photos {
		b, _ := os.ReadFile(p)
		files["/photos/"+filepath.Base(p)] = b
	}
	rs := &remoteSet{kind: map[string]string{}}
	var served []string
	for p := range files {
		served = append(served, p)
	}
	sort.Strings(served)
	flaky, corrupt := map[string]bool{}, map[string][]byte{}
	for i, p := range served[:nFlaky+nCorrupt] {
		if i < nFlaky {
			flaky[p] = true
		} else {
			// Cut mid-stream: a real PNG header with a truncated body.
			corrupt[p] = files[p][:len(files[p])/3]
		}
	}
	srv := &imageServer{hits: map[string]int{}}
	srv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.mu.Lock()
		srv.hits[r.URL.Path]++
		n := srv.hits[r.URL.Path]
		srv.mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/slow/"):
			select { // far beyond --fetch-timeout; let go when the client does
			case <-time.After(30 * time.Second):
			case <-r.Context().Done():
			}
			return
		case flaky[r.URL.Path] && n%2 == 1:
			// Every other request fails, so each run's first try does and
			// its retry succeeds.
			http.Error(w, "overloaded", http.StatusInternalServerError)
			return
		}
		if b, ok := corrupt[r.URL.Path]; ok {
			w.Write(b)
			return
		}
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream") // the decoder must sniff
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	rs.srv = srv

	// A few objects in S3 (gofakes3 on loopback, in this process), and one
	// key that is not there.
	fake := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(fake.Close)
	s3c, err := minio.New(strings.TrimPrefix(fake.URL, "http://"), &minio.Options{Creds: credentials.NewStaticV4("AKIDE2E", "secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s3c.MakeBucket(ctx, "imgs", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		b := files[served[len(served)-1-i]]
		key := fmt.Sprintf("s3set/%d.png", i)
		if _, err := s3c.PutObject(ctx, "imgs", key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		rs.add("s3://imgs/"+key, "")
	}
	rs.add("s3://imgs/s3set/missing.png", "http-status")
	rs.s3env = []string{"AWS_ENDPOINT_URL=" + fake.URL, "AWS_ACCESS_KEY_ID=AKIDE2E", "AWS_SECRET_ACCESS_KEY=secret", "AWS_REGION=us-east-1"}

	for _, p := range served {
		want := ""
		if corrupt[p] != nil {
			want = "truncated"
		}
		rs.add(srv.URL+p, want)
	}
	for i := 0; i < nMissing; i++ {
		rs.add(fmt.Sprintf("%s/gone/%d.png", srv.URL, i), "http-status")
	}
	for i := 0; i < nSlow; i++ {
		rs.add(fmt.Sprintf("%s/slow/%d.png", srv.URL, i), "fetch-timeout")
	}
	// Local files next to the URLs, relative to the manifest.
	for i := 0; i < 5; i++ {
		rs.add(fmt.Sprintf("png/%d.png", i), "")
	}
	rs.add("png/not-there.png", "unreadable")
	rs.manifest = filepath.Join(work, "manifest.txt")
	if err := os.WriteFile(rs.manifest, []byte(strings.Join(rs.entries, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return rs
}

func (rs *remoteSet) add(entry, kind string) {
	rs.entries = append(rs.entries, entry)
	rs.kind[entry] = kind
}

// fetchFlags keep the slow images from dominating the test: 0.5 s a try.
var fetchFlags = []string{"--model", "pixels:28x28:gray", "--fetch-timeout", "500ms", "--fetch-retries", "2", "-q"}

func (rs *remoteSet) cmd(args ...string) *exec.Cmd {
	c := exec.Command(winnow, append(args, fetchFlags...)...)
	c.Env = append(os.Environ(), rs.s3env...)
	return c
}

// readErrors returns path -> kind from errors files.
func readErrors(t *testing.T, files ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var rec struct{ Path, Kind string }
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if _, dup := out[rec.Path]; dup {
				t.Errorf("%s reported twice", rec.Path)
			}
			out[rec.Path] = rec.Kind
		}
	}
	return out
}

type fullRow struct {
	sha  string
	w, h int32
	feat []float32
}

func fullRows(t *testing.T, path string) map[string]fullRow {
	t.Helper()
	r, err := featstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[string]fullRow{}
	for {
		row, err := r.Next()
		if err != nil {
			break
		}
		if _, dup := out[row.Path]; dup {
			t.Fatalf("%s has two rows in %s", row.Path, path)
		}
		out[row.Path] = fullRow{row.SHA256, row.Width, row.Height, append([]float32(nil), row.Features...)}
	}
	return out
}

func sameRows(t *testing.T, what string, got, want map[string]fullRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s: no row for %s", what, p)
		case g.sha != w.sha || g.w != w.w || g.h != w.h || len(g.feat) != len(w.feat):
			t.Errorf("%s: %s is %s %dx%d/%d, want %s %dx%d/%d", what, p, g.sha, g.w, g.h, len(g.feat), w.sha, w.w, w.h, len(w.feat))
		default:
			for i := range w.feat {
				if g.feat[i] != w.feat[i] {
					t.Errorf("%s: %s feature %d = %g, want %g", what, p, i, g.feat[i], w.feat[i])
					break
				}
			}
		}
	}
}

// TestRemoteShards featurizes a manifest of URLs, s3:// objects and local
// paths once unsharded and once as 4 shard processes, one of them killed
// with SIGKILL once it has made progress and then rerun; the merge must be
// exactly the unsharded rows, and both runs must report every failure with
// its kind.
func TestRemoteShards(t *testing.T) {
	rs := newRemoteSet(t)
	work := t.TempDir()

	ref := filepath.Join(work, "ref.parquet")
	refErrs := filepath.Join(work, "ref.errors.jsonl")
	flakyBefore := rs.srv.count(strings.TrimPrefix(rs.entries[7], rs.srv.URL))
	if out, err := rs.cmd("featurize", rs.manifest, "-o", ref, "--errors", refErrs).CombinedOutput(); err != nil {
		t.Fatalf("unsharded run: %v\n%s", err, out)
	}
	want := fullRows(t, ref)
	wantErrs := readErrors(t, refErrs)
	for _, e := range rs.entries {
		k := rs.kind[e]
		_, hasRow := want[e]
		switch {
		case k == "" && !hasRow:
			t.Errorf("%s: no row (error %q)", e, wantErrs[e])
		case k != "" && wantErrs[e] != k:
			t.Errorf("%s: error kind %q, want %q", e, wantErrs[e], k)
		}
	}
	if len(want)+len(wantErrs) != len(rs.entries) {
		t.Errorf("%d rows + %d errors for %d entries", len(want), len(wantErrs), len(rs.entries))
	}
	// Retries: a flaky image was asked for twice, a missing one once (4xx is
	// final), a slow one three times (--fetch-retries 2).
	if got := rs.srv.count(strings.TrimPrefix(rs.entries[7], rs.srv.URL)) - flakyBefore; got != 2 {
		t.Errorf("flaky %s: %d requests, want 2 (a 500, then the retry)", rs.entries[7], got)
	}
	if got := rs.srv.count("/gone/0.png"); got != 1 {
		t.Errorf("missing image: %d requests, want 1 (no retry on 404)", got)
	}
	if got := rs.srv.count("/slow/0.png"); got != 3 {
		t.Errorf("slow image: %d requests, want 3", got)
	}

	// 4 shards at once, shard 2 slowed down so it can be killed mid-way.
	dir := filepath.Join(work, "shards")
	const n, victim = 4, 2
	var wg sync.WaitGroup
	outs := make([][]byte, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		if i == victim {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = rs.cmd("featurize", rs.manifest, "--shard", fmt.Sprintf("%d/%d", i, n), "-o", dir+"/").CombinedOutput()
		}()
	}
	victimArgs := []string{"featurize", rs.manifest, "--shard", fmt.Sprintf("%d/%d", victim, n), "-o", dir + "/",
		"--checkpoint-rows", "5", "--batch", "5", "--workers", "1", "--fetch-concurrency", "1"}
	kill := rs.cmd(victimArgs...)
	if err := kill.Start(); err != nil {
		t.Fatal(err)
	}
	chunks := filepath.Join(featstore.PartsDir(featstore.ShardFile(dir, victim, n)), "chunk-*.parquet")
	deadline := time.Now().Add(time.Minute)
	for {
		if m, _ := filepath.Glob(chunks); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("shard 2 made no durable progress within a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
	kill.Process.Signal(syscall.SIGKILL)
	if err := kill.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("shard %d was not killed mid-way (%v): make it slower", victim, err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("shard %d: %v\n%s", i, err, outs[i])
		}
	}

	// merge names the killed shard and writes nothing.
	all := filepath.Join(work, "all.parquet")
	out, code := runOut(rs.cmdPlain("features", "merge", dir, "-o", all, "--manifest", rs.manifest))
	if code == 0 || !strings.Contains(out, fmt.Sprintf("shard %d of %d missing", victim, n)) || !strings.Contains(out, "rerun index 2") {
		t.Errorf("merge with shard %d killed: exit %d\n%s", victim, code, out)
	}
	if _, err := os.Stat(all); err == nil {
		t.Error("merge wrote its output although a shard was missing")
	}

	out, code = runOut(rs.cmd(victimArgs...))
	// The summary counts rows found from before the kill as "already done".
	if code != 0 || !regexp.MustCompile(`already (done|in output)[^0-9]*[1-9]|[1-9][0-9]* \(?already`).MatchString(out) {
		t.Fatalf("rerun of shard %d did not resume: exit %d\n%s", victim, code, out)
	}
	out, code = runOut(rs.cmdPlain("features", "merge", dir, "-o", all, "--manifest", rs.manifest))
	if code != 0 {
		t.Fatalf("merge: exit %d\n%s", code, out)
	}
	sameRows(t, "merged shards vs unsharded", fullRows(t, all), want)
	var errFiles []string
	for i := 0; i < n; i++ {
		errFiles = append(errFiles, featstore.ShardErrorsFile(dir, i, n))
	}
	gotErrs := readErrors(t, errFiles...)
	if len(gotErrs) != len(wantErrs) {
		t.Errorf("shards reported %d errors, the unsharded run %d", len(gotErrs), len(wantErrs))
	}
	for p, k := range wantErrs {
		if gotErrs[p] != k {
			t.Errorf("%s: shards say %q, unsharded %q", p, gotErrs[p], k)
		}
	}

	// The folder is a Parquet dataset for DuckDB, read with a glob.
	duckGlob(t, filepath.Join(dir, "*.parquet"), len(want))

	// A manifest that grew: merge names the new entry, and its shard.
	grown := filepath.Join(work, "grown.txt")
	b, _ := os.ReadFile(rs.manifest)
	os.WriteFile(grown, append(b, []byte(rs.srv.URL+"/new.png\n")...), 0o644)
	out, code = runOut(rs.cmdPlain("features", "merge", dir, "-o", filepath.Join(work, "x.parquet"), "--manifest", grown))
	if code == 0 || !strings.Contains(out, rs.srv.URL+"/new.png") || !strings.Contains(out, "neither featurized nor in the errors") {
		t.Errorf("merge against a grown manifest: exit %d\n%s", code, out)
	}
	// Refuses to write over its input.
	for _, o := range []string{rs.manifest, featstore.ShardFile(dir, 1, n)} {
		before, _ := os.ReadFile(o)
		out, code = runOut(rs.cmdPlain("features", "merge", dir, "--manifest", rs.manifest, "-o", o))
		after, _ := os.ReadFile(o)
		if code != 2 || !bytes.Equal(before, after) {
			t.Errorf("merge -o %s (one of its inputs): exit %d\n%s", o, code, out)
		}
	}
}

func (rs *remoteSet) cmdPlain(args ...string) *exec.Cmd {
	c := exec.Command(winnow, args...)
	c.Env = append(os.Environ(), rs.s3env...)
	return c
}

func runOut(c *exec.Cmd) (string, int) {
	out, err := c.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		return err.Error(), -1
	}
	return string(out), 0
}

// duckGlob has DuckDB read a glob of Parquet files through featstore's
// harness and checks rows, distinct paths and the winnow metadata.
func duckGlob(t *testing.T, glob string, rows int) {
	t.Helper()
	node, err := exec.LookPath("node")
	harness := repo("internal/featstore/testdata")
	if err != nil {
		t.Log("node not on PATH: DuckDB check skipped")
		return
	}
	if _, err := os.Stat(filepath.Join(harness, "node_modules", "@duckdb", "node-api")); err != nil {
		t.Log("@duckdb/node-api not installed: DuckDB check skipped")
		return
	}
	out, err := exec.Command(node, filepath.Join(harness, "check_duckdb.mjs"), glob).Output()
	if err != nil {
		t.Fatalf("DuckDB on %s: %v", glob, err)
	}
	var got struct {
		Rows          int
		DistinctPaths int `json:"distinct_paths"`
		Metadata      map[string]string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.Rows != rows || got.DistinctPaths != rows || got.Metadata[featstore.KeyBackbone] != "pixels-28x28-l" {
		t.Errorf("DuckDB on %s: %d rows, %d paths, backbone %q; want %d rows", glob, got.Rows, got.DistinctPaths, got.Metadata[featstore.KeyBackbone], rows)
	}
}
