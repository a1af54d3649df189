package featurize

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/winnowml/winnow/internal/fetch"
	"github.com/winnowml/winnow/internal/imageio"
	"github.com/winnowml/winnow/internal/imageset"
	"github.com/winnowml/winnow/internal/progress"
)

// TestRemoteItemsMatchLocal featurizes the same photos from disk and over
// HTTP: the rows must be identical, a 404 must be an http-status error, and
// downloads must count in the memory budget (a budget smaller than a photo
// reports it as too-large, whether or not the server declares the length).
func TestRemoteItemsMatchLocal(t *testing.T) {
	m := tinyModel(t)
	photos, _ := filepath.Glob(repo("testdata/images/photos/*.jpg"))
	if len(photos) < 2 {
		t.Fatal("no photos")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(repo("testdata/images/photos/" + filepath.Base(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/chunked/") {
			w.(http.Flusher).Flush() // headers out before the body: no Content-Length
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		}
		w.Write(b)
	}))
	defer srv.Close()

	var items []imageset.Item
	for _, p := range photos {
		items = append(items, imageset.Item{Path: "local/" + filepath.Base(p), File: p})
		u := srv.URL + "/" + filepath.Base(p)
		items = append(items, imageset.Item{Path: u, File: u})
	}
	missing := srv.URL + "/nope.jpg"
	items = append(items, imageset.Item{Path: missing, File: missing})

	runWith := func(items []imageset.Item, decodeMemory int64) (string, []byte) {
		out := filepath.Join(t.TempDir(), "f.parquet")
		var errs bytes.Buffer
		_, err := Run(context.Background(), items, out, Config{Model: m, Batch: 4, Workers: 2, MaxPixels: 100e6, DecodeMemory: decodeMemory,
			Errors: &errs, Progress: progress.Quiet, Version: "test", Fetcher: fetch.New(fetch.Config{Concurrency: 3})})
		if err != nil {
			t.Fatal(err)
		}
		return out, errs.Bytes()
	}
	out, errb := runWith(items, 0)
	rows, _ := readAll(t, out)
	for _, p := range photos {
		l, r := rows["local/"+filepath.Base(p)], rows[srv.URL+"/"+filepath.Base(p)]
		if l.SHA256 == "" || l.SHA256 != r.SHA256 || l.Width != r.Width || len(r.Features) != len(l.Features) {
			t.Fatalf("%s: local %s %d, remote %s %d", p, l.SHA256, l.Width, r.SHA256, r.Width)
		}
		for i := range l.Features {
			if l.Features[i] != r.Features[i] {
				t.Fatalf("%s feature %d: local %g, remote %g", p, i, l.Features[i], r.Features[i])
			}
		}
	}
	if e := parseErrors(t, errb); len(e) != 1 || e[missing].Kind != fetch.KindStatus {
		t.Errorf("errors %v, want only %s as %s", e, missing, fetch.KindStatus)
	}

	// The smallest photo is larger than this budget.
	var remote []imageset.Item
	for _, p := range photos {
		for _, u := range []string{srv.URL + "/" + filepath.Base(p), srv.URL + "/chunked/" + filepath.Base(p)} {
			remote = append(remote, imageset.Item{Path: u, File: u})
		}
	}
	_, errb = runWith(remote, 50_000)
	e := parseErrors(t, errb)
	for _, it := range remote {
		if e[it.Path].Kind != "too-large" {
			t.Errorf("%s under a 50 kB budget: %+v, want too-large", it.Path, e[it.Path])
		}
		// Refused for the download itself (the file's size, or the first
		// 256 KiB step of a body of unknown length), not later for its decode.
		want := imageio.FormatBytes(256 << 10)
		if !strings.Contains(it.Path, "/chunked/") {
			st, _ := os.Stat(repo("testdata/images/photos/" + filepath.Base(it.Path)))
			want = imageio.FormatBytes(st.Size())
		}
		if !strings.Contains(e[it.Path].Error, "needs "+want+",") {
			t.Errorf("%s: %q, want the budget refusing %s", it.Path, e[it.Path].Error, want)
		}
	}
}
