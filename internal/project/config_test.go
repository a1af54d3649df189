package project

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/winnowml/winnow/internal/labelstore"
)

func TestConfigRendersAndReadsBack(t *testing.T) {
	c := DefaultConfig()
	c.Title = `Knots "in" pine \ spruce`
	c.About = "Line one with \"\"\" three quotes,\nline two\twith a tab, a backslash \\ and a bell \a.\n\n* list ü ✓\n"
	c.Images = `/data/knot photos/"quoted"`
	c.Backbone = "mobilenet-v2"
	c.Classes = []Class{
		{Name: "sound", Description: "Tight, \"alive\" knot.\nGrown into the wood."},
		{Name: `x' OR '1'='1`, Description: `Robert'); DROP TABLE answers;--`},
		{Name: "ends with quote\"", Description: "ends with quote\""},
	}
	c.Strategy, c.Batch, c.L1, c.L2, c.TrainFlagged, c.Seed = "margin", 7, 0, 2.5, true, 42
	c.Practice.Gate, c.Practice.MinAccuracy, c.Practice.Share, c.Practice.PageSize = GateAccuracy, 0.75, 0.25, 9
	c.Practice.MaxItems = 33
	data, err := c.Render()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), ConfigFile)
	os.WriteFile(path, data, 0o644)
	got, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("read back\n%+v\nwrote\n%+v\nfile:\n%s", got, c, data)
	}
	if !strings.Contains(string(data), "# ") {
		t.Fatal("the settings file has no comments")
	}
}

// A project's winnow.toml without max_items (made before the key) gets
// the default; one written now has it, with the new default page size.
func TestConfigPracticeDefaults(t *testing.T) {
	c := DefaultConfig()
	if c.Practice.MaxItems != 20 || c.Practice.PageSize != 10 {
		t.Fatalf("defaults: max_items %d, page_size %d, want 20 and 10", c.Practice.MaxItems, c.Practice.PageSize)
	}
	c.Images, c.Backbone, c.Classes = "x", "mobilenet-v2", []Class{{Name: "a"}, {Name: "b"}}
	data, _ := c.Render()
	if !strings.Contains(string(data), "\nmax_items = 20\n") || !strings.Contains(string(data), "\npage_size = 10\n") {
		t.Fatalf("the settings file lacks max_items = 20 or page_size = 10:\n%s", data)
	}
	old := strings.Replace(string(data), "max_items = 20\n", "", 1)
	old = strings.Replace(old, "page_size = 10\n", "page_size = 5\n", 1)
	path := filepath.Join(t.TempDir(), ConfigFile)
	os.WriteFile(path, []byte(old), 0o644)
	got, err := LoadConfig(path)
	if err != nil || got.Practice.MaxItems != 20 || got.Practice.PageSize != 5 {
		t.Fatalf("an older file: %+v, %v; want max_items 20 by default and its page_size 5 kept", got.Practice, err)
	}
}

func TestConfigRefusesUnknownKeysAndBadValues(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, ConfigFile)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	_, err := LoadConfig(write("images = \"x\"\nstrategy = \"entropy\"\nbatchsize = 3\n[[classes]]\nname = \"a\"\n[[classes]]\nname = \"b\"\n"))
	if err == nil || !strings.Contains(err.Error(), "batchsize") {
		t.Fatalf("misspelt key: %v, want an error naming it", err)
	}
	_, err = LoadConfig(write("images = \"x\"\nstrategy = \"psychic\"\nbatch = 0\n[practice]\ngate = \"sometimes\"\n[[classes]]\nname = \"a\"\n[[classes]]\nname = \"a\"\n"))
	for _, want := range []string{"psychic", "batch", "sometimes", `"a" named twice`, ConfigFile} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad values: %v, want it to mention %q", err, want)
		}
	}
	for _, v := range []string{"0", "-3"} {
		_, err = LoadConfig(write("images = \"x\"\n[practice]\nmax_items = " + v + "\n[[classes]]\nname = \"a\"\n[[classes]]\nname = \"b\"\n"))
		if err == nil || !strings.Contains(err.Error(), ConfigFile+": practice.max_items: must be positive, got "+v) {
			t.Errorf("max_items = %s: %v, want an error naming the file and the key", v, err)
		}
	}
	_, err = LoadConfig(write("images = \"x\n"))
	if err == nil || !strings.Contains(err.Error(), ConfigFile) {
		t.Fatalf("broken TOML: %v", err)
	}
}

// bareProject makes a project folder by hand (no featurize), for tests of
// what does not need features.
func bareProject(t *testing.T, images string) *Project {
	t.Helper()
	dir := t.TempDir()
	c := DefaultConfig()
	c.Images = images
	c.Backbone = "mobilenet-v2"
	c.Classes = []Class{{Name: "a"}, {Name: "b"}}
	data, err := c.Render()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	// Only init creates a database; this test project makes its own.
	p, err := open(dir, c, openCreate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestImagePathStaysInsideTheRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "images")
	outside := filepath.Join(base, "secret")
	for _, d := range []string{filepath.Join(root, "sub"), outside} {
		os.MkdirAll(d, 0o755)
	}
	for _, f := range []string{filepath.Join(root, "a.png"), filepath.Join(root, "sub", "b.png"), filepath.Join(outside, "key.png")} {
		os.WriteFile(f, []byte("x"), 0o644)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(filepath.Join(outside, "key.png"), filepath.Join(root, "escape.png")))
	must(os.Symlink(outside, filepath.Join(root, "dirlink")))
	must(os.Symlink(filepath.Join(root, "sub", "b.png"), filepath.Join(root, "inside.png")))
	must(os.Symlink("../secret/key.png", filepath.Join(root, "sub", "relative-escape.png")))

	p := bareProject(t, root)
	ctx := context.Background()
	paths := map[string]bool{ // path -> allowed
		"a.png":                           true,
		"sub/b.png":                       true,
		"inside.png":                      true, // a symlink that stays inside
		"../secret/key.png":               false,
		"sub/../../secret/key.png":        false,
		"sub/..":                          false,
		filepath.Join(outside, "key.png"): false,
		"/etc/passwd":                     false,
		"escape.png":                      false,
		"dirlink/key.png":                 false,
		"sub/relative-escape.png":         false,
		"sub":                             false, // not a file
		"missing.png":                     false,
		"a.png\x00.txt":                   false,
	}
	var items []labelstore.Item
	for pth := range paths {
		items = append(items, labelstore.Item{Path: pth, SHA256: "0"})
	}
	if _, err := p.Store().AddItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	realRoot, _ := filepath.EvalSymlinks(root)
	for pth, ok := range paths {
		it, err := p.Store().ItemByPath(ctx, pth)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.ImagePath(ctx, it.ID)
		switch {
		case ok && err != nil:
			t.Errorf("%q refused: %v", pth, err)
		case ok && !strings.HasPrefix(got, realRoot+string(filepath.Separator)):
			t.Errorf("%q resolved to %s, outside %s", pth, got, realRoot)
		case !ok && err == nil:
			t.Errorf("%q allowed as %s", pth, got)
		}
	}
	for _, pth := range []string{"../secret/key.png", "/etc/passwd", "escape.png", "dirlink/key.png"} {
		it, _ := p.Store().ItemByPath(ctx, pth)
		if _, err := p.ImagePath(ctx, it.ID); !errors.Is(err, ErrOutsideRoot) {
			t.Errorf("%q: %v, want ErrOutsideRoot", pth, err)
		}
	}
	if _, err := p.ImagePath(ctx, 987654); !errors.Is(err, labelstore.ErrNotFound) {
		t.Errorf("unknown item: %v, want ErrNotFound", err)
	}
}

func TestCloseRoundIsExclusiveAcrossProcesses(t *testing.T) {
	root := t.TempDir()
	p := bareProject(t, root)
	// Another process holding the lock looks, to this one, like another
	// open file description with a flock on it.
	unlock, err := lockFile(p.path(".close.lock"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.CloseRound(context.Background())
	unlock()
	if !errors.Is(err, ErrClosing) {
		t.Fatalf("CloseRound while another holds the lock: %v, want ErrClosing", err)
	}
	// Free again: now it fails for the real reason, no round.
	if _, err := p.CloseRound(context.Background()); !errors.Is(err, ErrNoRound) {
		t.Fatalf("CloseRound without a round: %v, want ErrNoRound", err)
	}
}
