package dataset

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/winnowml/winnow/internal/plural"
)

// Folders is the label source that is not a file: each image's label is the
// first folder of its path under the featurized root (photos/boot/1.png was
// featurized as boot/1.png: label boot), the layout of Keras'
// image_dataset_from_directory and torchvision's ImageFolder.
const Folders = "folders"

// None is the label value that, like an empty one, means "none of these":
// looked at, fits no class (the workshop's NA). Compared without case.
const None = "none"

// Labels maps image paths to their label. An empty label means "none of
// these" (written "" or None in a file): it is kept so callers can count it.
type Labels struct {
	ByPath map[string]string
	Order  []string // paths in file order, for stable outputs
	// Repeats counts rows repeating an earlier path with the same label.
	Repeats int
	// Overridden counts paths a later row or file relabelled
	// (Merge.OnConflict "last").
	Overridden int
	// Folded maps each spelling merged away by Merge.FoldCase to the one
	// kept, e.g. "Sneaker" -> "sneaker".
	Folded map[string]string
	// NoFolder counts feature paths directly under the root: Folders gives
	// them no label.
	NoFolder int

	from map[string]int // path -> index of the source that set its label
}

// Merge says how several label sources combine.
type Merge struct {
	// OnConflict is "error" (or empty): a path given two different labels
	// is an error listing the conflicts; "last": the later row wins, and
	// Labels.Overridden counts them.
	OnConflict string
	// FoldCase merges labels that differ only in case ("Sneaker" and
	// "sneaker") into one spelling; without it they are an error, since a
	// typo would otherwise become a class of its own.
	FoldCase bool
	// Classes are the preferred spellings when folding (--classes); else
	// the most frequent spelling wins.
	Classes []string
}

// CheckOnConflict validates a --on-conflict value.
func CheckOnConflict(v string) error {
	switch v {
	case "", "error", "last":
		return nil
	}
	return fmt.Errorf("--on-conflict %q: want error or last", v)
}

// ReadLabels reads a CSV with a "path" column and the label column.
// A path given two different labels is an error naming the first such paths.
func ReadLabels(name, column string) (*Labels, error) {
	l := newLabels()
	var conflicts []string
	if err := l.readFile(name, column, 0, []string{name}, "error", &conflicts); err != nil {
		return nil, err
	}
	if len(conflicts) > 0 {
		return nil, fmt.Errorf("%s: %d paths have conflicting labels: %s", name, len(conflicts), firstFew(conflicts))
	}
	return l, nil
}

// SourceOptions locate the feature file the Folders source reads its paths
// from.
type SourceOptions struct {
	Features []string // the rows of every file, in order
	Column   string   // label column (never a feature of a features CSV)
	Ignore   []string
}

// ReadSources merges label sources in order: CSV files and Folders. A path
// labelled the same way twice counts once (Repeats); labelled differently,
// it is an error listing the conflicts unless m.OnConflict is "last".
// Labels that differ only in case are an error unless m.FoldCase.
func ReadSources(sources []string, src SourceOptions, m Merge) (*Labels, error) {
	if err := CheckOnConflict(m.OnConflict); err != nil {
		return nil, err
	}
	if src.Column == "" {
		src.Column = "label"
	}
	if len(sources) == 0 {
		return nil, errors.New("no label source given")
	}
	l := newLabels()
	var conflicts []string
	for i, s := range sources {
		if s == Folders {
			if len(src.Features) == 0 {
				return nil, errors.New("--labels folders takes the labels from the feature file's paths; give --features")
			}
			if err := l.readFolders(src, i, sources, m.OnConflict, &conflicts); err != nil {
				return nil, err
			}
			continue
		}
		if err := l.readFile(s, src.Column, i, sources, m.OnConflict, &conflicts); err != nil {
			return nil, err
		}
	}
	if len(conflicts) > 0 {
		return nil, fmt.Errorf("%d paths have conflicting labels: %s\n(correct them, or give --on-conflict last to let the later file win)", len(conflicts), firstFew(conflicts))
	}
	if err := l.foldCase(m); err != nil {
		return nil, err
	}
	return l, nil
}

func newLabels() *Labels {
	return &Labels{ByPath: map[string]string{}, from: map[string]int{}}
}

// set records one (path, label) row of source i.
func (l *Labels) set(p, lab string, i int, sources []string, onConflict string, conflicts *[]string) {
	old, seen := l.ByPath[p]
	switch {
	case !seen:
		l.ByPath[p] = lab
		l.from[p] = i
		l.Order = append(l.Order, p)
	case old == lab:
		l.Repeats++
	case onConflict == "last":
		l.ByPath[p] = lab
		l.from[p] = i
		l.Overridden++
	default:
		a, b := sources[l.from[p]], sources[i]
		if a == b {
			*conflicts = append(*conflicts, fmt.Sprintf("%s (%q and %q in %s)", p, old, lab, a))
		} else {
			*conflicts = append(*conflicts, fmt.Sprintf("%s (%q in %s, %q in %s)", p, old, a, lab, b))
		}
	}
}

func (l *Labels) readFile(name, column string, i int, sources []string, onConflict string, conflicts *[]string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\ufeff")) {
		br.Discard(3)
	}
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return fmt.Errorf("%s: reading the CSV header: %w", name, err)
	}
	pathCol, labelCol := -1, -1
	for i, h := range head {
		h = strings.TrimSpace(h)
		if strings.EqualFold(h, "path") {
			pathCol = i
		}
		if h == column {
			labelCol = i
		}
	}
	if pathCol < 0 || labelCol < 0 {
		return fmt.Errorf("%s: need columns \"path\" and %q (--label-column); the header has: %s", name, column, strings.Join(head, ", "))
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if len(rec) <= max(pathCol, labelCol) {
			line, _ := r.FieldPos(0)
			return fmt.Errorf("%s:%d: too few fields", name, line)
		}
		// Paths verbatim (featurize records " a.png" with its space), labels
		// trimmed ("cat " is a typo for "cat").
		p, lab := rec[pathCol], strings.TrimSpace(rec[labelCol])
		if strings.EqualFold(lab, None) {
			lab = ""
		}
		if strings.TrimSpace(p) == "" {
			continue
		}
		l.set(p, lab, i, sources, onConflict, conflicts)
	}
}

func (l *Labels) readFolders(src SourceOptions, i int, sources []string, onConflict string, conflicts *[]string) error {
	var paths []string
	for _, name := range src.Features {
		ps, err := FeaturePaths(name, Columns{Label: src.Column, Ignore: src.Ignore})
		if err != nil {
			return err
		}
		paths = append(paths, ps...)
	}
	for _, p := range paths {
		lab, ok, err := FolderLabel(p)
		if err != nil {
			return fmt.Errorf("--labels folders: %s: %w", strings.Join(src.Features, ", "), err)
		}
		if !ok {
			l.NoFolder++
			continue
		}
		l.set(p, lab, i, sources, onConflict, conflicts)
	}
	return nil
}

// FolderLabel is the first folder of a path as featurize records it
// (relative, with /); ok is false for a file directly under the root. An
// absolute path is an error: its first folder says nothing about the class
// (featurize records such paths from a manifest, not from a folder).
func FolderLabel(p string) (label string, ok bool, err error) {
	q := strings.ReplaceAll(p, "\\", "/")
	if path.IsAbs(q) || (len(q) > 1 && q[1] == ':') {
		return "", false, fmt.Errorf("path %q is absolute: folder labels need the paths featurize records for a folder (featurize photos/ records boot/1.png)", p)
	}
	q = strings.TrimPrefix(path.Clean(q), "./")
	first, _, found := strings.Cut(q, "/")
	if !found || first == ".." {
		return "", false, nil
	}
	return first, true, nil
}

// FeaturePaths lists the paths of a feature file in file order, each once.
func FeaturePaths(name string, c Columns) ([]string, error) {
	feats, err := OpenFeatures(name, c)
	if err != nil {
		return nil, err
	}
	defer feats.Close()
	seen := map[string]bool{}
	var out []string
	for {
		p, _, err := feats.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
}

// foldCase finds labels that differ only in case: an error naming them
// with their row counts, or with m.FoldCase one spelling per group.
func (l *Labels) foldCase(m Merge) error {
	count := map[string]int{}
	example := map[string]string{}
	for _, p := range l.Order {
		lab := l.ByPath[p]
		if lab == "" {
			continue
		}
		if count[lab] == 0 {
			example[lab] = p
		}
		count[lab]++
	}
	groups := map[string][]string{}
	for lab := range count {
		k := strings.ToLower(lab)
		groups[k] = append(groups[k], lab)
	}
	preferred := map[string]bool{}
	for _, c := range m.Classes {
		preferred[c] = true
	}
	var keys []string
	for k, g := range groups {
		if len(g) > 1 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	var msgs []string
	to := map[string]string{}
	for _, k := range keys {
		g := groups[k]
		// Most rows first; a spelling of --classes before any other.
		sort.Slice(g, func(a, b int) bool {
			if preferred[g[a]] != preferred[g[b]] {
				return preferred[g[a]]
			}
			if count[g[a]] != count[g[b]] {
				return count[g[a]] > count[g[b]]
			}
			return g[a] < g[b]
		})
		var parts []string
		for _, lab := range g {
			parts = append(parts, fmt.Sprintf("%q (%s, e.g. %s)", lab, plural.N(count[lab], "row"), example[lab]))
			if lab != g[0] {
				to[lab] = g[0]
			}
		}
		msgs = append(msgs, strings.Join(parts, " vs "))
	}
	if !m.FoldCase {
		return fmt.Errorf("labels that differ only in case would be separate classes: %s\n(correct them, or give --fold-case to merge each group into its first spelling)", strings.Join(msgs, "; "))
	}
	for p, lab := range l.ByPath {
		if t, ok := to[lab]; ok {
			l.ByPath[p] = t
		}
	}
	l.Folded = to
	return nil
}

// Summary is a one-line account of how the sources merged, or "".
func (l *Labels) Summary() string {
	var parts []string
	if l.Overridden > 0 {
		parts = append(parts, fmt.Sprintf("%s relabelled by a later file (--on-conflict last)", plural.N(l.Overridden, "path")))
	}
	if len(l.Folded) > 0 {
		var fs []string
		for from, to := range l.Folded {
			fs = append(fs, fmt.Sprintf("%q -> %q", from, to))
		}
		sort.Strings(fs)
		parts = append(parts, "merged labels differing only in case: "+strings.Join(fs, ", "))
	}
	if l.NoFolder > 0 {
		parts = append(parts, fmt.Sprintf("%s directly under the root: no folder, hence no label", plural.N(l.NoFolder, "image")))
	}
	return strings.Join(parts, "; ")
}

// Classes returns the distinct non-empty labels, sorted: the class order
// when none is given.
func (l *Labels) Classes() []string {
	seen := map[string]bool{}
	var out []string
	for _, lab := range l.ByPath {
		if lab != "" && !seen[lab] {
			seen[lab] = true
			out = append(out, lab)
		}
	}
	sort.Strings(out)
	return out
}

// SourceList names the label sources for messages: "a.csv + b.csv".
func SourceList(sources []string) string {
	return strings.Join(sources, " + ")
}

func firstFew(s []string) string {
	const n = 5
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:n], ", ") + fmt.Sprintf(", ... (%d more)", len(s)-n)
}

// PathMismatch explains labelled paths that a feature file lacks: three of
// its paths beside three of the missing ones, and, when one prefix accounts
// for the difference (photos/sandal/x.png given, sandal/x.png stored), the
// prefix to strip or add.
func PathMismatch(featuresPath string, missing []string, c Columns) error {
	head := fmt.Sprintf("%d labelled paths are not in %s", len(missing), featuresPath)
	stored, err := FeaturePaths(featuresPath, c)
	if err != nil || len(stored) == 0 {
		return fmt.Errorf("%s: %s", head, firstFew(missing))
	}
	var b strings.Builder
	b.WriteString(head + ". Paths must be written exactly as featurize recorded them:\n")
	w := 0
	for _, p := range stored[:min(3, len(stored))] {
		w = max(w, len(p))
	}
	w = max(w, len("in the features"))
	fmt.Fprintf(&b, "  %-*s   %s\n", w, "in the features", "in the labels")
	for i := range 3 {
		var s, g string
		if i < len(stored) {
			s = stored[i]
		}
		if i < len(missing) {
			g = missing[i]
		}
		if s == "" && g == "" {
			break
		}
		fmt.Fprintf(&b, "  %-*s   %s\n", w, s, g)
	}
	if fix := prefixFix(stored, missing); fix != "" {
		b.WriteString(fix)
	} else if len(missing) > 3 {
		fmt.Fprintf(&b, "  (%d more missing)", len(missing)-3)
	}
	return errors.New(strings.TrimRight(b.String(), "\n"))
}

// prefixFix finds the leading folders that, stripped from the given paths
// or from the stored ones, make most missing paths match; "" if none does.
func prefixFix(stored, missing []string) string {
	have := make(map[string]bool, len(stored))
	for _, p := range stored {
		have[p] = true
	}
	// A stored path without its leading folders, -> those folders.
	storedTail := map[string]string{}
	for _, p := range stored {
		for i := 0; i < len(p); i++ {
			if p[i] == '/' {
				if _, dup := storedTail[p[i+1:]]; !dup {
					storedTail[p[i+1:]] = p[:i+1]
				}
			}
		}
	}
	strip, add := map[string]int{}, map[string]int{}
	for _, g := range missing {
		for i := 0; i < len(g); i++ {
			if g[i] == '/' && have[g[i+1:]] {
				strip[g[:i+1]]++
				break
			}
		}
		if pre, ok := storedTail[g]; ok {
			add[pre]++
		}
	}
	best := func(m map[string]int) (string, int) {
		k, n := "", 0
		for p, c := range m {
			if c > n || (c == n && p < k) {
				k, n = p, c
			}
		}
		return k, n
	}
	sp, sn := best(strip)
	ap, an := best(add)
	switch {
	case sn > 0 && sn >= an && 2*sn >= len(missing):
		return fmt.Sprintf("Fix: the labels' paths start with %q, which the features' do not (%d of the %d missing match without it): remove it from the path column, e.g. sed 's|^%s||' on a labels file whose first column is path, or featurize the folder the labels are relative to", sp, sn, len(missing), sp)
	case an > 0 && 2*an >= len(missing):
		return fmt.Sprintf("Fix: the features' paths start with %q, which the labels' do not (%d of the %d missing match with it): add it to the labels' paths, or use --labels folders if the images are sorted into one folder per class", ap, an, len(missing))
	}
	return ""
}

// WriteLabels writes (path, label) rows as a labels CSV with the header
// path,label: the file every verb's --labels reads.
func WriteLabels(w io.Writer, rows [][2]string) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"path", "label"})
	for _, r := range rows {
		if err := cw.Write(r[:]); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
