package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// photo is a real image from the repository's test data, so what comes back
// is compared against bytes that matter, not a made-up string.
func photo(t *testing.T) []byte {
	t.Helper()
	matches, _ := filepath.Glob("../../testdata/images/photos/*.jpg")
	if len(matches) == 0 {
		t.Fatal("no testdata/images/photos/*.jpg")
	}
	data, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func kindOf(err error) string {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return ""
}

func TestHTTP(t *testing.T) {
	img := photo(t)
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		n := hits[r.URL.Path]
		mu.Unlock()
		switch r.URL.Path {
		case "/ok.jpg":
			w.Header().Set("Content-Type", "text/html") // a lie the caller must not care about
			w.Header().Set("Content-Length", fmt.Sprint(len(img)))
			w.Write(img)
		case "/flaky.jpg":
			if n <= 2 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			w.Write(img)
		case "/always500.jpg":
			http.Error(w, "broken", http.StatusInternalServerError)
		case "/slow.jpg":
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		case "/chunked.jpg":
			// No Content-Length: the cap must hold while streaming.
			for i := 0; i < 8; i++ {
				w.Write(bytes.Repeat([]byte{1}, 64<<10))
				w.(http.Flusher).Flush()
			}
		case "/short.jpg":
			w.Header().Set("Content-Length", fmt.Sprint(len(img)))
			w.Write(img[:len(img)/2])
			panic(http.ErrAbortHandler) // cut the connection mid-body
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f := New(Config{Timeout: 300 * time.Millisecond, Retries: 3, Backoff: 10 * time.Millisecond, MaxBytes: 400 << 10})
	ctx := context.Background()

	var reserved atomic.Int64
	data, err := f.Fetch(ctx, srv.URL+"/ok.jpg", func(n int64) error { reserved.Add(n); return nil })
	if err != nil || !bytes.Equal(data, img) {
		t.Fatalf("ok.jpg: %d bytes, %v", len(data), err)
	}
	if reserved.Load() != int64(len(img)) {
		t.Errorf("reserved %d bytes for a %d-byte body", reserved.Load(), len(img))
	}
	if data, err := f.Fetch(ctx, srv.URL+"/flaky.jpg", nil); err != nil || !bytes.Equal(data, img) || hits["/flaky.jpg"] != 3 {
		t.Errorf("flaky.jpg: %v after %d requests, want the image after 3", err, hits["/flaky.jpg"])
	}
	for _, c := range []struct {
		path, kind string
		requests   int
	}{
		{"/missing.jpg", KindStatus, 1}, // 4xx: never retried
		{"/always500.jpg", KindStatus, 4},
		{"/slow.jpg", KindTimeout, 4},
		{"/chunked.jpg", KindTooLarge, 1},
		{"/short.jpg", KindConnection, 4},
	} {
		start := time.Now()
		_, err := f.Fetch(ctx, srv.URL+c.path, nil)
		mu.Lock()
		got := hits[c.path]
		mu.Unlock()
		if kindOf(err) != c.kind || got != c.requests {
			t.Errorf("%s: kind %q (%v) after %d requests, want %q after %d", c.path, kindOf(err), err, got, c.kind, c.requests)
		}
		if time.Since(start) > 3*time.Second {
			t.Errorf("%s took %v: the timeout did not bound it", c.path, time.Since(start))
		}
	}
	if _, err := f.Fetch(ctx, "http://", nil); kindOf(err) != KindBadURL {
		t.Errorf("http:// gave %v, want bad-url", err)
	}
	// A refusal from the budget stops the fetch with the caller's error.
	no := errors.New("no memory")
	if _, err := f.Fetch(ctx, srv.URL+"/ok.jpg", func(int64) error { return no }); !errors.Is(err, no) {
		t.Errorf("budget refusal gave %v", err)
	}
}

// TestConcurrencyBound checks that no more than Concurrency requests are in
// flight, however many callers there are.
func TestConcurrencyBound(t *testing.T) {
	var now, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		now.Add(-1)
		w.Write([]byte("x"))
	}))
	defer srv.Close()
	f := New(Config{Concurrency: 3})
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.Fetch(context.Background(), fmt.Sprintf("%s/%d", srv.URL, i), nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p < 2 || p > 3 {
		t.Errorf("peak %d requests in flight, want 2..3", p)
	}
}

// TestS3 fetches from gofakes3 serving on loopback: the S3 REST protocol
// over real HTTP (path-style GET, XML error bodies), in process, so the test
// needs no Docker or Java. gofakes3 does not verify signatures, so the
// handler checks that requests are SigV4-signed with the configured key.
func TestS3(t *testing.T) {
	img := photo(t)
	fake := gofakes3.New(s3mem.New()).Server()
	var signed, unsigned atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDTEST/") {
			signed.Add(1)
		} else {
			unsigned.Add(1)
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	admin, err := minio.New(host, &minio.Options{Creds: credentials.NewStaticV4("AKIDTEST", "secret", ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := admin.MakeBucket(ctx, "photos", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PutObject(ctx, "photos", "a/b c.jpg", bytes.NewReader(img), int64(len(img)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	signed.Store(0)

	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")
	f := New(Config{Retries: 2, Backoff: time.Millisecond})
	data, err := f.Fetch(ctx, "s3://photos/a/b%20c.jpg", nil)
	if err != nil || !bytes.Equal(data, img) {
		t.Fatalf("s3 fetch: %d bytes, %v", len(data), err)
	}
	if signed.Load() == 0 || unsigned.Load() != 0 {
		t.Errorf("%d signed, %d unsigned requests: the env credentials were not used", signed.Load(), unsigned.Load())
	}
	_, err = f.Fetch(ctx, "s3://photos/missing.jpg", nil)
	var fe *Error
	if !errors.As(err, &fe) || fe.Kind != KindStatus || fe.Status != 404 || fe.Attempts != 1 {
		t.Errorf("missing object: %+v, want http-status 404 after 1 attempt", err)
	}
	small := New(Config{MaxBytes: 100})
	if _, err := small.Fetch(ctx, "s3://photos/a/b%20c.jpg", nil); kindOf(err) != KindTooLarge {
		t.Errorf("object over the cap: %v, want too-large", err)
	}
}

// TestOtherSchemesAreBadURLs: a manifest entry with a scheme this package
// does not fetch (ftp://, gopher://, file://) is a URL all the same, so it
// must fail as bad-url at once, not be read as a local path that happens
// to contain "://"; paths with a colon but no scheme stay local.
func TestOtherSchemesAreBadURLs(t *testing.T) {
	f := New(Config{})
	for _, u := range []string{"ftp://files.example/a.png", "FTP://files.example/b.jpg", "gopher://h.example/1/c.png",
		"file:///data/d.png", "sftp://h.example/e.png", "git+ssh://h.example/f.png"} {
		if !IsRemote(u) {
			t.Errorf("IsRemote(%q) = false: it would be opened as a local file", u)
		}
		start := time.Now()
		_, err := f.Fetch(context.Background(), u, nil)
		var fe *Error
		if !errors.As(err, &fe) || fe.Kind != KindBadURL || fe.Attempts > 1 {
			t.Errorf("%s: %v, want one bad-url attempt", u, err)
			continue
		}
		if !strings.Contains(err.Error(), "http://, https:// or s3://") {
			t.Errorf("%s: message %q does not say which schemes are fetched", u, err)
		}
		if strings.HasPrefix(strings.ToLower(u), "file:") && !strings.Contains(err.Error(), "path") {
			t.Errorf("%s: message %q does not say to write the local path", u, err)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%s took %v: a bad URL must not be retried", u, time.Since(start))
		}
	}
	for _, p := range []string{"a.png", "/abs/b.png", "c:d.png", "C:/e.png", "weird:/f.png", "://g.png", "1ftp://h.png", "dir/ftp://i.png"} {
		if IsRemote(p) {
			t.Errorf("IsRemote(%q) = true: a local path would be fetched", p)
		}
	}
}
