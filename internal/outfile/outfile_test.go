package outfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckCatchesEveryWayToNameAnInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "features.parquet")
	if err := os.WriteFile(in, []byte("PAR1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(in, filepath.Join(dir, "link.parquet")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(in, filepath.Join(dir, "hard.parquet")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, in)
	if err != nil {
		t.Fatal(err)
	}
	inputs := []Named{{"--features", in}}
	for name, out := range map[string]string{
		"same path":        in,
		"relative path":    rel,
		"unclean path":     filepath.Join(dir, ".", "sub", "..", "features.parquet"),
		"symlink":          filepath.Join(dir, "link.parquet"),
		"hard link":        filepath.Join(dir, "hard.parquet"),
		"symlinked folder": filepath.Join(dir, "alias", "features.parquet"),
	} {
		err := Check(inputs, []Named{{"-o", out}})
		var ce *ConflictError
		if !errors.As(err, &ce) || !ce.Input {
			t.Errorf("%s: %s as output of input %s: got %v, want a conflict", name, out, in, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "-o") || !strings.Contains(msg, "--features") {
			t.Errorf("%s: message %q does not name both flags", name, msg)
		}
	}
	if err := Check(inputs, []Named{{"-o", filepath.Join(dir, "other.parquet")}, {"--errors", ""}, {"--json", "-"}}); err != nil {
		t.Errorf("distinct output refused: %v", err)
	}
}

func TestCheckOutputsAgainstEachOther(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.parquet")
	err := Check(nil, []Named{{"-o", p}, {"--errors", p}})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Input {
		t.Fatalf("two outputs at one path: got %v, want an output conflict", err)
	}
}

func TestWriteIsAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "report.html")
	if err := WriteFile(p, []byte("good")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk full")
	err := Write(p, func(w io.Writer) error {
		w.Write([]byte("half of a new rep"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write returned %v, want the fill error", err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "good" {
		t.Fatalf("previous output changed to %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
}

func TestGroupReplacesNothingUntilAllAreWritten(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "sub", "b.json")
	os.WriteFile(a, []byte("old"), 0o644)
	var g Group
	if err := g.Add(a, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := g.Add(b, []byte("x")); err == nil {
		t.Fatal("adding into a missing folder succeeded")
	}
	g.Abort()
	if got, _ := os.ReadFile(a); string(got) != "old" {
		t.Fatalf("a.csv replaced although the group failed: %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestCreateRefusesAFolder(t *testing.T) {
	if _, err := Create(t.TempDir()); err == nil {
		t.Fatal("Create on a folder succeeded")
	}
}
