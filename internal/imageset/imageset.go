// Package imageset lists the images a command should read: every image file
// under a folder, or the paths named by a manifest.
package imageset

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/winnowml/winnow/internal/fetch"
)

// Item is one image to read.
type Item struct {
	Path string // the name recorded in outputs: as written in the manifest, or relative to the folder with forward slashes
	File string // where to open it on this machine
}

// Remote reports whether the item is a URL rather than a file to open: one
// of a scheme fetch gets (http, https, s3) or of any other, which fetch
// reports as a bad-url error.
func (it Item) Remote() bool { return fetch.IsRemote(it.File) }

// Shard returns which of n shards path belongs to: FNV-1a 64 of the path
// string, mod n. It depends on the path alone, so adding images to a
// manifest moves no existing image to another shard, and every machine and
// every rerun agrees without sharing anything.
func Shard(path string, n int) int {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(path); i++ {
		h ^= uint64(path[i])
		h *= prime
	}
	return int(h % uint64(n))
}

// InShard keeps the items of shard i of n.
func InShard(items []Item, i, n int) []Item {
	var kept []Item
	for _, it := range items {
		if Shard(it.Path, n) == i {
			kept = append(kept, it)
		}
	}
	return kept
}

// Extensions are the file name endings a folder walk picks up, in lower case.
var Extensions = []string{".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"}

// IsImageName reports whether a file name has one of Extensions, in any case.
func IsImageName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range Extensions {
		if ext == e {
			return true
		}
	}
	return false
}

// List returns the items of source, which is a folder (walked recursively) or
// a manifest file: plain text with one path per line, or a CSV whose header
// has a "path" column. Relative manifest paths are relative to the manifest's
// folder. Folder items are sorted so runs and outputs are reproducible.
func List(source string) ([]Item, error) {
	st, err := os.Stat(source)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		if lst, err := os.Lstat(source); err == nil && lst.Mode()&fs.ModeSymlink != 0 {
			// WalkDir does not follow a root that is a symlink (it would
			// list the link as one file and find no images); with a
			// trailing separator the root is the folder it points to.
			source += string(filepath.Separator)
		}
		return walk(source)
	}
	if !st.Mode().IsRegular() {
		// Reading a FIFO or a device as a manifest would block or never end.
		return nil, fmt.Errorf("%s is neither a folder nor a regular file (a manifest or an image)", source)
	}
	f, err := os.Open(source)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if IsImageName(source) || looksBinary(f) {
		// One image given as SOURCE: read as a manifest, its bytes would
		// become thousands of "paths" echoed to the terminal.
		return []Item{{Path: filepath.ToSlash(filepath.Base(source)), File: source}}, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return ReadManifest(f, filepath.Dir(source), source)
}

// looksBinary reports whether a file starts like no text manifest can: a
// NUL byte or bytes that are not UTF-8 in its first kilobytes, which is
// what every image format (and most other binary files) has.
func looksBinary(f *os.File) bool {
	buf := make([]byte, 8192)
	n, _ := io.ReadFull(f, buf)
	buf = buf[:n]
	if bytes.IndexByte(buf, 0) >= 0 {
		return true
	}
	// A multi-byte character cut at the end of the buffer is not binary.
	for i := 0; i < 4 && len(buf) > 0 && !utf8.Valid(buf); i++ {
		buf = buf[:len(buf)-1]
	}
	return !utf8.Valid(buf)
}

func walk(root string) ([]Item, error) {
	var items []Item
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// An unreadable sub-folder must not hide the rest of the tree, but
			// it must not pass silently either: the caller reports it.
			if p != root {
				items = append(items, Item{Path: rel(root, p), File: p})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			return err
		}
		if d.IsDir() {
			if p != root && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir // .git, .thumbnails, and our own .parts folders
			}
			return nil
		}
		if IsImageName(d.Name()) {
			items = append(items, Item{Path: rel(root, p), File: p})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Path < items[j].Path })
	return items, nil
}

func rel(root, p string) string {
	r, err := filepath.Rel(root, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(r)
}

// ReadManifest parses a manifest. base resolves relative paths; name is used
// in error messages.
func ReadManifest(r io.Reader, base, name string) ([]Item, error) {
	br := bufio.NewReader(r)
	first, err := br.Peek(4096)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	header, _, _ := strings.Cut(string(first), "\n")
	header = strings.TrimSpace(strings.TrimPrefix(header, "\ufeff"))
	if isCSVHeader(header) || strings.EqualFold(filepath.Ext(name), ".csv") {
		return ReadCSV(br, base, name)
	}
	var items []Item
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		// A path is taken as written, spaces included (" a.png" is a
		// legal file name); only the line ending and a BOM are not part of it.
		p := strings.TrimSuffix(sc.Text(), "\r")
		if line == 1 {
			p = strings.TrimPrefix(p, "\ufeff")
		}
		if strings.TrimSpace(p) == "" || strings.HasPrefix(p, "#") {
			continue
		}
		items = append(items, Item{Path: p, File: resolve(base, p)})
	}
	return items, sc.Err()
}

func isCSVHeader(h string) bool {
	for _, f := range strings.Split(h, ",") {
		if strings.EqualFold(strings.Trim(strings.TrimSpace(f), `"`), "path") {
			return strings.Contains(h, ",") || strings.EqualFold(strings.Trim(h, `"`), "path")
		}
	}
	return false
}

// ReadCSV reads the "path" column of a CSV (other columns ignored); a CSV
// without one is an error.
func ReadCSV(r io.Reader, base, name string) ([]Item, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading CSV header: %w", name, err)
	}
	col := -1
	for i, h := range head {
		if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), "path") {
			col = i
			break
		}
	}
	if col < 0 {
		return nil, fmt.Errorf("%s: the CSV header has no \"path\" column (found: %s)", name, strings.Join(head, ", "))
	}
	var items []Item
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if col >= len(rec) {
			line, _ := cr.FieldPos(0)
			return nil, fmt.Errorf("%s:%d: no value in the path column", name, line)
		}
		p := rec[col] // verbatim: see ReadManifest
		if strings.TrimSpace(p) == "" {
			continue
		}
		items = append(items, Item{Path: p, File: resolve(base, p)})
	}
	return items, nil
}

func resolve(base, p string) string {
	if fetch.IsRemote(p) {
		return p // fetched as is, never joined to the manifest's folder
	}
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, filepath.FromSlash(p))
}
