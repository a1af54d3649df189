package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/winnowml/winnow/internal/fmnist"
	"github.com/winnowml/winnow/internal/labelstore"
)

// trustProject makes a small project (60 Fashion-MNIST images, 20 gold)
// and returns its folder, the image folder and the gold file.
func trustProject(t *testing.T) (dir, images, gold string) {
	t.Helper()
	images = fmnistFolder(t, 60)
	work := t.TempDir()
	gold = filepath.Join(work, "gold.csv")
	var b strings.Builder
	b.WriteString("path,label\n")
	for i, p := range imagePaths(t, images) {
		if i%3 == 0 {
			fmt.Fprintf(&b, "%s,%s\n", p, strings.SplitN(p, "/", 2)[0])
		}
	}
	os.WriteFile(gold, []byte(b.String()), 0o644)
	dir = filepath.Join(work, "proj")
	runOK(t, "init", dir, "--images", images, "--classes", strings.Join(fmnist.Classes, ","), "--gold", gold, "--batch", "5", "-q")
	return dir, images, gold
}

func imagePaths(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// init checks every input before it writes anything, and a failure after
// writing removes what it wrote: the corrected command then just works.
func TestInitLeavesNothingBehindOnBadInput(t *testing.T) {
	images := fmnistFolder(t, 30)
	work := t.TempDir()
	classes := strings.Join(fmnist.Classes, ",")
	notCSV := filepath.Join(work, "gold.png")
	png, _ := os.ReadFile(filepath.Join(images, imagePaths(t, images)[0]))
	os.WriteFile(notCSV, png, 0o644)
	wrongPaths := filepath.Join(work, "wrong.csv")
	os.WriteFile(wrongPaths, []byte("path,label\nelsewhere/1.png,coat\nelsewhere/2.png,bag\n"), 0o644)
	wrongClasses := filepath.Join(work, "classes.csv")
	os.WriteFile(wrongClasses, []byte("path,label\n"+imagePaths(t, images)[0]+",zebra\n"), 0o644)
	empty := filepath.Join(work, "empty")
	os.MkdirAll(empty, 0o755)
	// Files named as images that no decoder takes: they pass the checks
	// (images found), and featurize fails on every one of them.
	junk := filepath.Join(work, "junk")
	os.MkdirAll(junk, 0o755)
	for i := range 3 {
		os.WriteFile(filepath.Join(junk, fmt.Sprintf("%d.png", i)), []byte("not a picture"), 0o644)
	}
	cases := []struct {
		name, want string
		args       []string
	}{
		{"gold not a CSV", "--gold", []string{"--images", images, "--gold", notCSV}},
		{"gold naming no image", "none of its 2 paths", []string{"--images", images, "--gold", wrongPaths}},
		{"gold with no project class", "zebra", []string{"--images", images, "--gold", wrongClasses}},
		{"empty image folder", "no images", []string{"--images", empty}},
		{"no image readable", "could be featurized", []string{"--images", junk}},
	}
	for _, c := range cases {
		for _, existing := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/existing folder %v", c.name, existing), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "proj")
				if existing {
					os.MkdirAll(dir, 0o755)
					os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644)
				}
				args := append([]string{"init", dir, "--classes", classes, "-q"}, c.args...)
				_, stderr, code := run(t, args...)
				if code == 0 || !strings.Contains(stderr, c.want) {
					t.Fatalf("init %s: exit %d, want an error saying %q:\n%s", c.name, code, c.want, stderr)
				}
				want := []string(nil)
				if existing {
					want = []string{"notes.txt"}
				}
				if got := entries(t, dir); strings.Join(got, ",") != strings.Join(want, ",") {
					t.Fatalf("init %s left %v in the project folder (want %v):\n%s", c.name, got, want, stderr)
				}
			})
		}
	}
	// Corrected, the same folder takes the command at once.
	dir := filepath.Join(t.TempDir(), "proj")
	run(t, "init", dir, "--classes", classes, "--images", images, "--gold", notCSV, "-q")
	runOK(t, "init", dir, "--classes", classes, "--images", images, "-q")
}

// A folder given as a symlink is followed with and without the trailing
// slash (it used to read as "no images" without it).
func TestInitFollowsASymlinkedImageFolder(t *testing.T) {
	images := fmnistFolder(t, 20)
	work := t.TempDir()
	link := filepath.Join(work, "photos")
	if err := os.Symlink(images, link); err != nil {
		t.Fatal(err)
	}
	for i, src := range []string{link, link + "/"} {
		dir := filepath.Join(work, fmt.Sprint("proj", i))
		_, stderr := runOK(t, "init", dir, "--images", src, "--classes", strings.Join(fmnist.Classes, ","), "-q")
		if !strings.Contains(stderr, "20 images registered") {
			t.Fatalf("init --images %s:\n%s", src, stderr)
		}
	}
	_, stderr := runOK(t, "featurize", link, "-o", filepath.Join(work, "f.parquet"), "-q")
	if !strings.Contains(stderr, "20") {
		t.Fatalf("featurize of a symlinked folder:\n%s", stderr)
	}
}

// A project whose database is gone is refused by every verb, which must
// not create an empty one in its place (status used to report 0 images).
func TestProjectVerbsRefuseAMissingDatabase(t *testing.T) {
	dir, _, gold := trustProject(t)
	db := filepath.Join(dir, "winnow.db")
	for _, bad := range []struct {
		name string
		make func()
		want string
	}{
		{"deleted", func() { os.Remove(db); os.Remove(db + "-wal"); os.Remove(db + "-shm") }, "winnow.db missing"},
		{"not a database", func() { os.WriteFile(db, []byte("path,label\n"), 0o600) }, "winnow.db is not a winnow database"},
	} {
		bad.make()
		before := snapshotFiles(dir)
		for _, args := range [][]string{
			{"status", dir}, {"import-labels", dir, gold}, {"round", "close", dir},
			{"assess", dir, "--no-models"}, {"predict", "--project", dir, "-o", filepath.Join(t.TempDir(), "p.csv")},
			{"serve", dir, "--addr", "127.0.0.1:0"},
		} {
			_, stderr, code := runTimeout(t, 30e9, args...)
			if code == 0 || !strings.Contains(stderr, "is not a winnow project: "+bad.want) {
				t.Errorf("%s with the database %s: exit %d:\n%s", args[0], bad.name, code, stderr)
			}
		}
		assertUnchanged(t, before, dir)
	}
}

// status and assess open the database read-only: they work on a project
// the user cannot write, and change no byte of it.
func TestStatusAndAssessOnAReadOnlyProject(t *testing.T) {
	dir, _, _ := trustProject(t)
	want, _ := runOK(t, "status", dir)
	before := snapshotFiles(dir)
	cmd := func(args ...string) *exec.Cmd {
		c := exec.Command(winnow, args...)
		if os.Getuid() == 0 {
			// Root writes anywhere: run as nobody, who can read the
			// project but write neither its files nor its folder.
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		return c
	}
	// Everything the unprivileged run needs must be readable by it: the
	// binary's own temporary folder (0700 from MkdirTemp), and the
	// project's folders below (made read-only here).
	os.Chmod(filepath.Dir(winnow), 0o755)
	filepath.Walk(filepath.Dir(dir), func(p string, info os.FileInfo, err error) error {
		if err == nil {
			mode := os.FileMode(0o444)
			if info.IsDir() {
				mode = 0o555
			}
			os.Chmod(p, mode)
		}
		return nil
	})
	t.Cleanup(func() {
		filepath.Walk(filepath.Dir(dir), func(p string, info os.FileInfo, err error) error {
			if err == nil {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	// t.TempDir's parent folder is 0700 too; it only needs to be
	// searchable (its mode is restored at the end).
	parent := filepath.Dir(filepath.Dir(dir))
	if st, err := os.Stat(parent); err == nil && st.Mode().Perm()&0o001 == 0 {
		os.Chmod(parent, st.Mode().Perm()|0o001)
		t.Cleanup(func() { os.Chmod(parent, st.Mode().Perm()) })
	}
	got, stderr, code := runCmd(t, cmd("status", dir))
	if code != 0 || got != want {
		t.Fatalf("status on a read-only project: exit %d\n%s\nwant:\n%s\ngot:\n%s", code, stderr, want, got)
	}
	out, stderr, code := runCmd(t, cmd("assess", dir))
	if code != 0 || !strings.Contains(out, "participant") {
		t.Fatalf("assess on a read-only project: exit %d\n%s\n%s", code, out, stderr)
	}
	// A verb that writes says it cannot, and writes nothing.
	_, stderr, code = runCmd(t, cmd("round", "close", dir))
	if code == 0 {
		t.Fatalf("round close on a read-only project succeeded:\n%s", stderr)
	}
	assertUnchanged(t, before, dir)
}

// import-labels never changes a label silently: a gold (or imported) label
// that the file would change is listed, and nothing is imported unless
// --on-conflict replace says so.
func TestImportLabelsListsEveryConflict(t *testing.T) {
	dir, _, gold := trustProject(t)
	rows := readCSVFile(t, gold)
	changed := filepath.Join(t.TempDir(), "changed.csv")
	var b strings.Builder
	b.WriteString("path,label\n")
	for i, r := range rows[1:] {
		lab := r[1]
		if i < 2 {
			lab = map[bool]string{true: "bag", false: "coat"}[lab != "bag"]
		}
		fmt.Fprintf(&b, "%s,%s\n", r[0], lab)
	}
	os.WriteFile(changed, []byte(b.String()), 0o644)
	status, _ := runOK(t, "status", dir)
	kept := []string{filepath.Join(dir, "winnow.toml"), filepath.Join(dir, "labels"), filepath.Join(dir, "models")}
	before := snapshotFiles(kept...)
	_, stderr, code := run(t, "import-labels", dir, changed, "--gold")
	if code == 0 || !strings.Contains(stderr, "would change the gold label of 2 images") ||
		!strings.Contains(stderr, rows[1][0]) || !strings.Contains(stderr, rows[2][0]) || !strings.Contains(stderr, "--on-conflict replace") {
		t.Fatalf("a gold import changing 2 labels: exit %d\n%s", code, stderr)
	}
	if strings.Count(stderr, changed) != 1 {
		t.Fatalf("the file's name should appear once:\n%s", stderr)
	}
	assertUnchanged(t, before, kept...)
	if again, _ := runOK(t, "status", dir); again != status {
		t.Fatalf("a refused import changed the project:\n%s\n%s", status, again)
	}
	goldOf := func(path string) string {
		st, err := labelstore.OpenReadOnly(filepath.Join(dir, "winnow.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		it, err := st.ItemByPath(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return it.Gold
	}
	if got := goldOf(rows[1][0]); got != rows[1][1] {
		t.Fatalf("after a refused import %s has gold %q, want %q", rows[1][0], got, rows[1][1])
	}
	out, _ := runOK(t, "import-labels", dir, changed, "--gold", "--on-conflict", "replace")
	if !strings.Contains(out, "2 labels replaced") || strings.Count(out, "import-labels: replaced ") != 2 {
		t.Fatalf("--on-conflict replace:\n%s", out)
	}
	if got := goldOf(rows[1][0]); got == rows[1][1] {
		t.Fatalf("after --on-conflict replace %s still has gold %q", rows[1][0], got)
	}
	// A file that is not a CSV is named once in the error.
	_, stderr, code = run(t, "import-labels", dir, filepath.Join(dir, "winnow.db"))
	if code == 0 || strings.Count(stderr, "winnow.db") != 1 {
		t.Fatalf("import-labels of a binary file: exit %d\n%s", code, stderr)
	}
}

// labels from-folders refuses an output inside the folder it reads: it
// used to overwrite one of its own images and exit 0.
func TestFromFoldersRefusesAnOutputInsideItsInput(t *testing.T) {
	images := fmnistFolder(t, 20)
	target := filepath.Join(images, imagePaths(t, images)[0])
	before := snapshotFiles(images)
	for _, out := range []string{target, filepath.Join(images, "labels.csv")} {
		_, stderr, code := run(t, "labels", "from-folders", images, "-o", out)
		if code != 2 || !strings.Contains(stderr, "inside the input folder") {
			t.Fatalf("from-folders -o %s: exit %d\n%s", out, code, stderr)
		}
	}
	assertUnchanged(t, before, images)
	runOK(t, "labels", "from-folders", images, "-o", filepath.Join(t.TempDir(), "labels.csv"))
}

// A bad value in winnow.toml is named with the file and the key, nan too.
func TestBadSettingsNameFileAndKey(t *testing.T) {
	dir, _, _ := trustProject(t)
	toml := filepath.Join(dir, "winnow.toml")
	orig, _ := os.ReadFile(toml)
	for _, c := range []struct{ from, to, key string }{
		{"l2 = 0.01", "l2 = nan", "l2"},
		{"l1 = 0.01", "l1 = inf", "l1"},
		{"share = 0.5", "share = nan", "practice.share"},
		{"min_accuracy = 0.8", "min_accuracy = nan", "practice.min_accuracy"},
	} {
		if !strings.Contains(string(orig), c.from) {
			t.Fatalf("winnow.toml has no %q", c.from)
		}
		os.WriteFile(toml, []byte(strings.Replace(string(orig), c.from, c.to, 1)), 0o644)
		_, stderr, code := run(t, "status", dir)
		if code == 0 || !strings.Contains(stderr, "winnow.toml") || !strings.Contains(stderr, c.key+":") {
			t.Errorf("status with %s: exit %d\n%s", c.to, code, stderr)
		}
	}
}
