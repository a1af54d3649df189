// Package outfile is how every winnow verb writes its outputs: never onto one
// of its own inputs, and all or nothing.
//
// The two rules live together because they fail together: a verb that
// truncates its output before reading its input destroys the input, and a
// verb interrupted half-way through a write leaves a file that looks like a
// result. Check runs before any work; Write makes the file appear only once
// it is complete and on disk.
package outfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Named is a file a verb reads or writes, with the flag that names it, so an
// error can say which two flags collide.
type Named struct {
	Flag string // e.g. "--features", or "SOURCE" for an argument
	Path string
}

// ConflictError says that an output would overwrite an input (or another
// output).
type ConflictError struct {
	Output, Other Named
	Input         bool // Other is an input; false: another output
}

func (e *ConflictError) Error() string {
	what := "input"
	if !e.Input {
		what = "output"
	}
	return fmt.Sprintf("%s %s is the same file as the %s %s %s: refusing to overwrite it (choose another %s)",
		e.Output.Flag, e.Output.Path, what, e.Other.Flag, e.Other.Path, e.Output.Flag)
}

// Check refuses any output that is the same path or the same file (after
// symlinks and hard links) as an input or as another output. Empty paths and
// "-" (standard output) are ignored.
func Check(inputs, outputs []Named) error {
	outs := keep(outputs)
	for i, o := range outs {
		for _, in := range keep(inputs) {
			if same(o.Path, in.Path) {
				return &ConflictError{Output: o, Other: in, Input: true}
			}
		}
		for _, other := range outs[:i] {
			if same(o.Path, other.Path) {
				return &ConflictError{Output: o, Other: other}
			}
		}
	}
	return nil
}

// CheckOutside refuses any output that lies inside the input folder dir
// (after symlinks), for verbs that read every file under dir: an output
// there could be one of the files read, or become one on the next run.
func CheckOutside(dir Named, outputs []Named) error {
	root := resolve(dir.Path)
	if root == "" {
		root = abs(dir.Path)
	}
	for _, o := range keep(outputs) {
		for _, p := range []string{abs(o.Path), resolve(o.Path)} {
			if p != "" && (p == root || strings.HasPrefix(p, root+string(filepath.Separator))) {
				return fmt.Errorf("%s %s is inside the input folder %s %s: refusing to write there (it could overwrite or later be read as an input; choose a path outside it)",
					o.Flag, o.Path, dir.Flag, dir.Path)
			}
		}
	}
	return nil
}

func keep(list []Named) []Named {
	var out []Named
	for _, n := range list {
		if n.Path != "" && n.Path != "-" {
			out = append(out, n)
		}
	}
	return out
}

// same reports whether two paths name one file: the same cleaned absolute
// path, the same resolved path (a symlink to the other, or through a
// symlinked folder), or the same inode (a hard link).
func same(a, b string) bool {
	if abs(a) == abs(b) {
		return true
	}
	if ra, rb := resolve(a), resolve(b); ra != "" && ra == rb {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	return a
}

// resolve follows symlinks in the folder and, if it exists, the file itself,
// so an output that does not exist yet still matches an input reached
// through a symlinked folder.
func resolve(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return abs(r)
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs(p)))
	if err != nil {
		return ""
	}
	return filepath.Join(dir, filepath.Base(p))
}

// Write creates path with what fill writes: into a temporary file in the
// same folder, flushed, fsynced and renamed over path only if fill and every
// step succeeded. On any error the previous file at path, if any, is left as
// it was. The file gets mode 0644, like any ordinary output.
func Write(path string, fill func(w io.Writer) error) error {
	t, err := Create(path)
	if err != nil {
		return err
	}
	defer t.Abort()
	bw := bufio.NewWriterSize(t, 1<<20)
	if err := fill(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return t.Commit()
}

// WriteFile is Write for data already in memory.
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Temp is an output being written: a hidden temporary file beside its final
// path. Commit makes it the output; Abort (safe after Commit) throws it away.
type Temp struct {
	*os.File
	path string
	done bool
}

// Create starts an output at path.
func Create(path string) (*Temp, error) {
	if path == "" {
		return nil, fmt.Errorf("empty output path")
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s is a folder, not a file", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+strings.TrimPrefix(filepath.Base(path), ".")+".tmp-*")
	if err != nil {
		return nil, err
	}
	// CreateTemp makes 0600 files; an output is ordinary data.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &Temp{File: f, path: path}, nil
}

// Commit fsyncs the temporary file, renames it over the final path and
// fsyncs the folder, so the new file survives a power cut once Commit
// returns.
func (t *Temp) Commit() error {
	if t.done {
		return fmt.Errorf("%s: already committed or aborted", t.path)
	}
	t.done = true
	err := t.Sync()
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(t.Name(), t.path)
	}
	if err != nil {
		os.Remove(t.Name())
		return err
	}
	return SyncDir(filepath.Dir(t.path))
}

// Abort removes the temporary file unless Commit already ran.
func (t *Temp) Abort() {
	if t.done {
		return
	}
	t.done = true
	t.Close()
	os.Remove(t.Name())
}

// SyncDir makes a rename in dir durable. Some file systems refuse to fsync a
// folder; that is not worth failing a finished output for.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	d.Sync()
	return d.Close()
}

// Group writes several outputs that belong together (simulate's folder):
// every file is written to its temporary first, and only when all are
// complete are they renamed into place, so a failure half-way leaves the
// previous set untouched.
type Group struct {
	temps []*Temp
}

// Add writes one member's content to its temporary file.
func (g *Group) Add(path string, data []byte) error {
	t, err := Create(path)
	if err != nil {
		return err
	}
	g.temps = append(g.temps, t)
	if _, err := t.Write(data); err != nil {
		return err
	}
	return t.Sync()
}

// Commit renames every member into place.
func (g *Group) Commit() error {
	for _, t := range g.temps {
		if err := t.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Abort removes the temporary files not yet committed.
func (g *Group) Abort() {
	for _, t := range g.temps {
		t.Abort()
	}
}
