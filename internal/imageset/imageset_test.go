package imageset

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func touch(t *testing.T, root string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(root, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func paths(items []Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Path)
	}
	return out
}

func TestWalkPicksImagesInAnyCaseRecursively(t *testing.T) {
	root := t.TempDir()
	touch(t, root, "b.JPG", "a.png", "sub/c.jpeg", "sub/deep/d.TIFF", "sub/e.webp", "f.gif", "g.bmp", "h.tif",
		"notes.txt", "sub/model.onnx", ".hidden/x.jpg", "noext")
	items, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a.png", "b.JPG", "f.gif", "g.bmp", "h.tif", "sub/c.jpeg", "sub/deep/d.TIFF", "sub/e.webp"}
	if got := paths(items); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	for _, it := range items {
		if it.File != filepath.Join(root, filepath.FromSlash(it.Path)) {
			t.Errorf("%s: file %s", it.Path, it.File)
		}
	}
}

func TestTextManifestResolvesRelativeToItself(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "list.txt")
	// Paths are verbatim: " e.jpg" is a file whose name starts with a space
	// (a folder walk records it so, and labels must be able to name it).
	content := "\ufeffimgs/a.jpg\r\n\n# comment\n/abs/b.png\n   \nc d.jpg\n e.jpg\n"
	if err := os.WriteFile(m, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	items, err := List(m)
	if err != nil {
		t.Fatal(err)
	}
	want := []Item{{"imgs/a.jpg", filepath.Join(dir, "imgs/a.jpg")}, {"/abs/b.png", "/abs/b.png"}, {"c d.jpg", filepath.Join(dir, "c d.jpg")},
		{" e.jpg", filepath.Join(dir, " e.jpg")}}
	if !reflect.DeepEqual(items, want) {
		t.Fatalf("got %v\nwant %v", items, want)
	}
}

func TestCSVManifestUsesPathColumn(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "labels.csv")
	content := "label,Path\nknot,\"a,b.jpg\"\nclear,x/y.png\n"
	if err := os.WriteFile(m, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	items, err := List(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(items); !reflect.DeepEqual(got, []string{"a,b.jpg", "x/y.png"}) {
		t.Fatalf("got %v", got)
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("file,label\na.jpg,x\n"), 0o644)
	if _, err := List(bad); err == nil || !strings.Contains(err.Error(), `"path"`) {
		t.Fatalf("CSV without path column: %v", err)
	}
}

func TestMissingSource(t *testing.T) {
	if _, err := List(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("want an error")
	}
}

// One image given as SOURCE is that image, not a manifest whose "lines" are
// its bytes; a binary file without an image extension is treated alike.
func TestSingleImageIsItsOwnSource(t *testing.T) {
	dir := t.TempDir()
	png := filepath.Join(dir, "cat.PNG")
	os.WriteFile(png, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), 0o644)
	noext := filepath.Join(dir, "blob")
	os.WriteFile(noext, []byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F'}, 0o644)
	for _, f := range []string{png, noext} {
		items, err := List(f)
		if err != nil {
			t.Fatal(err)
		}
		want := []Item{{filepath.Base(f), f}}
		if !reflect.DeepEqual(items, want) {
			t.Errorf("%s: got %v, want %v", f, items, want)
		}
	}
	// A text manifest is still a manifest.
	txt := filepath.Join(dir, "list")
	os.WriteFile(txt, []byte("a.jpg\nb.jpg\n"), 0o644)
	if items, err := List(txt); err != nil || len(items) != 2 {
		t.Errorf("text manifest: %v %v", items, err)
	}
}

// TestShardStable pins the hash: shards written by one winnow version must
// be merged against manifests read by the next, so the function may never
// change. The values are FNV-1a 64 as published (offset 0xcbf29ce484222325,
// prime 0x100000001b3), computed by hash/fnv.
func TestShardStable(t *testing.T) {
	for _, p := range []string{"", "a.jpg", "https://example.com/x/y.png", "s3://b/k", "ünï.png"} {
		h := fnv.New64a()
		h.Write([]byte(p))
		for _, n := range []int{1, 2, 4, 7, 1000} {
			if got, want := Shard(p, n), int(h.Sum64()%uint64(n)); got != want {
				t.Errorf("Shard(%q, %d) = %d, want %d", p, n, got, want)
			}
		}
	}
	// Every item lands in exactly one shard.
	var items []Item
	for i := 0; i < 500; i++ {
		items = append(items, Item{Path: fmt.Sprintf("img/%d.png", i)})
	}
	total := 0
	for i := 0; i < 4; i++ {
		part := InShard(items, i, 4)
		if len(part) < 80 {
			t.Errorf("shard %d of 4 has %d of 500 items: the hash spreads badly", i, len(part))
		}
		total += len(part)
	}
	if total != len(items) {
		t.Errorf("shards hold %d items, want %d", total, len(items))
	}
}

func TestManifestURLs(t *testing.T) {
	items, err := ReadManifest(strings.NewReader("a.png\nhttps://h.example/b.jpg\ns3://bucket/c d.png\n"), "/base", "m.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := []Item{{"a.png", "/base/a.png"}, {"https://h.example/b.jpg", "https://h.example/b.jpg"}, {"s3://bucket/c d.png", "s3://bucket/c d.png"}}
	if len(items) != len(want) {
		t.Fatalf("got %v", items)
	}
	for i := range want {
		if items[i] != want[i] || items[i].Remote() != (i > 0) {
			t.Errorf("item %d = %+v (remote %v), want %+v", i, items[i], items[i].Remote(), want[i])
		}
	}
}

// An ftp:// entry is a URL the fetcher refuses (bad-url), never a file
// under the manifest's folder: resolved as a path it would fail as a
// missing file, or worse, read one.
func TestManifestOtherSchemesStayURLs(t *testing.T) {
	items, err := ReadManifest(strings.NewReader("path\nftp://h.example/a.png\ngopher://h.example/b.png\nfile:///data/c.png\nd:e.png\n"), "/base", "m.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := []Item{{"ftp://h.example/a.png", "ftp://h.example/a.png"}, {"gopher://h.example/b.png", "gopher://h.example/b.png"},
		{"file:///data/c.png", "file:///data/c.png"}, {"d:e.png", "/base/d:e.png"}}
	if len(items) != len(want) {
		t.Fatalf("got %v", items)
	}
	for i := range want {
		if items[i] != want[i] || items[i].Remote() != (i < 3) {
			t.Errorf("item %d = %+v (remote %v), want %+v", i, items[i], items[i].Remote(), want[i])
		}
	}
}
