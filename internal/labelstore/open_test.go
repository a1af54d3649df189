package labelstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Only Open creates a database: a verb opening an existing project must
// refuse a missing file, an empty one and an SQLite file that is not
// winnow's, and leave each as it was.
func TestOpenExistingRefusesWhatIsNotAWinnowDatabase(t *testing.T) {
	dir := t.TempDir()
	// Some other program's SQLite file, made through a winnow database's
	// handle by attaching it.
	foreign := filepath.Join(dir, "foreign.db")
	db, err := Open(filepath.Join(dir, "scratch.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.DB().Exec(`ATTACH DATABASE ? AS f; CREATE TABLE f.t(x); DETACH DATABASE f`, foreign); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if head, _ := os.ReadFile(foreign); !bytes.HasPrefix(head, []byte("SQLite format 3")) {
		t.Fatalf("the foreign file is not SQLite: %q", head[:min(len(head), 16)])
	}
	cases := map[string]func(string){
		"missing": func(string) {},
		"empty":   func(p string) { os.WriteFile(p, nil, 0o600) },
		"text":    func(p string) { os.WriteFile(p, []byte("path,label\nx.png,a\n"), 0o600) },
		"foreign": func(p string) { data, _ := os.ReadFile(foreign); os.WriteFile(p, data, 0o600) },
	}
	for name, make := range cases {
		for _, opener := range []struct {
			name string
			open func(string) (*Store, error)
		}{{"OpenExisting", OpenExisting}, {"OpenReadOnly", OpenReadOnly}} {
			t.Run(name+"/"+opener.name, func(t *testing.T) {
				p := filepath.Join(t.TempDir(), "winnow.db")
				make(p)
				before, _ := os.ReadFile(p)
				s, err := opener.open(p)
				if err == nil {
					s.Close()
					t.Fatalf("%s opened a %s file", opener.name, name)
				}
				if !errors.Is(err, ErrNotWinnow) {
					t.Fatalf("%s file: %v, want ErrNotWinnow", name, err)
				}
				after, statErr := os.ReadFile(p)
				if name == "missing" {
					if !os.IsNotExist(statErr) {
						t.Fatalf("a refused open created %s", p)
					}
				} else if !bytes.Equal(before, after) {
					t.Fatalf("a refused open changed the %s file", name)
				}
				entries, _ := os.ReadDir(filepath.Dir(p))
				if len(entries) > 1 || (name == "missing" && len(entries) > 0) {
					t.Fatalf("a refused open left files: %v", entries)
				}
			})
		}
	}
}

// A read-only open reads what a writer committed and writes nothing: not
// the file, not a migration, not a class.
func TestOpenReadOnlyReadsAndNeverWrites(t *testing.T) {
	s, path := openTemp(t)
	setup(t, s, 3, "a", "b")
	s.Close()
	before, _ := os.ReadFile(path)
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	c, err := ro.Count(bg)
	if err != nil || c.Items != 3 {
		t.Fatalf("read-only count: %+v, %v", c, err)
	}
	if err := ro.SetClasses(bg, []string{"a", "b", "c"}); err == nil || !strings.Contains(strings.ToLower(err.Error()), "readonly") {
		t.Fatalf("a write through a read-only store: %v", err)
	}
	ro.Close()
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a read-only open changed the database file")
	}
}
