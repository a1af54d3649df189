package project

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/plural"
)

// ImportResult counts what ImportLabels did with every row.
type ImportResult struct {
	Rows             int            // rows with a path
	Imported         int            // labels recorded (gold or not), "none of these" included
	Practice, Test   int            // gold labels by role given
	None             int            // rows whose label is empty or "none": recorded as "none of these"
	Unchanged        int            // rows giving an item the label it already had
	Replaced         []Change       // labels changed (only with OnConflictReplace)
	OnGold           int            // non-gold labels given to gold items, where the gold label wins
	UnknownPaths     int            // paths not among the project's images
	UnknownClasses   map[string]int // label -> rows whose label is not a class of the project
	UnknownPathNames []string       // the first few unknown paths, for the message
	// OverMax counts the gold labels, among Test, that the hash put on
	// the practice side but that went to test because the project had
	// MaxPractice practice items ([practice] max_items).
	OverMax, MaxPractice int
}

// Change is one item's label as it was and as an import makes it.
type Change struct {
	Path     string
	Old, New string // labelstore.NoneOption for "none of these"
}

func (c Change) String() string { return fmt.Sprintf("%s: %q -> %q", c.Path, c.Old, c.New) }

// String is a one-line account.
func (r ImportResult) String() string {
	s := fmt.Sprintf("%s: %s imported", plural.N(r.Rows, "row"), plural.N(r.Imported, "label"))
	if r.Practice+r.Test > 0 {
		s += fmt.Sprintf(" (gold: %d practice, %d test", r.Practice, r.Test)
		if r.OverMax > 0 {
			s += fmt.Sprintf(", of which %d because the practice items reached [practice] max_items = %d", r.OverMax, r.MaxPractice)
		}
		s += ")"
	}
	if r.None > 0 {
		s += fmt.Sprintf(", of which %d \"none of these\" (an empty label or none)", r.None)
	}
	if r.Unchanged > 0 {
		s += fmt.Sprintf(", %d already had that label", r.Unchanged)
	}
	if len(r.Replaced) > 0 {
		s += fmt.Sprintf(", %s replaced", plural.N(len(r.Replaced), "label"))
	}
	if r.OnGold > 0 {
		s += fmt.Sprintf(", %d on gold items (their gold label wins)", r.OnGold)
	}
	if r.UnknownPaths > 0 {
		s += fmt.Sprintf(", %s (e.g. %s)", plural.N(r.UnknownPaths, "unknown path"), strings.Join(r.UnknownPathNames, ", "))
	}
	if len(r.UnknownClasses) > 0 {
		var parts []string
		total := 0
		for c, n := range r.UnknownClasses {
			parts = append(parts, fmt.Sprintf("%q: %d", c, n))
			total += n
		}
		sort.Strings(parts)
		s += fmt.Sprintf(", %s with unknown classes (%s)", plural.N(total, "row"), strings.Join(parts, ", "))
	}
	return s
}

// OnConflict says what an import does with an item that already has a
// different label of the same kind (gold for a gold import, an imported
// label for another).
type OnConflict string

const (
	// OnConflictError refuses the whole import and lists every conflict.
	OnConflictError OnConflict = "error"
	// OnConflictReplace replaces the labels and reports each change.
	OnConflictReplace OnConflict = "replace"
)

// ParseOnConflict checks an --on-conflict value.
func ParseOnConflict(s string) (OnConflict, error) {
	switch OnConflict(s) {
	case "", OnConflictError:
		return OnConflictError, nil
	case OnConflictReplace:
		return OnConflictReplace, nil
	}
	return "", fmt.Errorf("--on-conflict %q: want error or replace", s)
}

// ConflictError lists the labels an import would change.
type ConflictError struct {
	File    string
	Gold    bool
	Changes []Change
}

func (e *ConflictError) Error() string {
	kind := "imported"
	if e.Gold {
		kind = "gold"
	}
	lines := make([]string, len(e.Changes))
	for i, c := range e.Changes {
		lines[i] = "  " + c.String()
	}
	return fmt.Sprintf("%s would change the %s label of %s; nothing imported (give --on-conflict replace to replace them):\n%s",
		e.File, kind, plural.N(len(e.Changes), "image"), strings.Join(lines, "\n"))
}

// ImportLabels adds known labels from a CSV with a "path" column and the
// label column (default "label"); paths are as featurize recorded them,
// relative to the image root. Gold labels feed practice and the test set:
// each is put in one or the other by a hash of (seed, path), so the split is
// stable and does not depend on the file's order. The practice side is
// capped at [practice] max_items practice items in the store: an item that
// is a practice item already stays one (a later import never demotes it),
// and the new candidates fill what is left in the order of their hash
// value, the rest going to test, so the cap too is independent of the
// file's order. An item already in the test set whose hash says practice is
// such a candidate (it becomes practice only when there is room, after
// max_items is raised). Other labels train but
// never test. An empty label or "none" records "none of these": the image
// is left out of training and never picked. Unknown paths and classes are
// counted, not fatal; a file that cannot be read, gives one image two
// labels, or would change a label the item already has (unless on is
// OnConflictReplace) imports nothing.
func (p *Project) ImportLabels(ctx context.Context, file, labelColumn string, gold bool, on OnConflict) (ImportResult, error) {
	res, rows, err := p.readImport(ctx, file, labelColumn)
	if err != nil {
		return res, err
	}
	type update struct {
		id          labelstore.ItemID
		class, role string
	}
	var ups []update
	var changes []Change
	// The practice items in the store, less those this import takes out
	// of practice, and the gold the hash puts on the practice side that is
	// not a practice item yet: the candidates for the room left under
	// [practice] max_items.
	kept := 0
	if gold {
		count, err := p.store.Count(ctx)
		if err != nil {
			return res, err
		}
		kept = count.Practice
	}
	type cand struct {
		up   int // index in ups
		hash uint64
		path string
	}
	var cands []cand
	for _, r := range rows {
		class, asGold := r.class, gold
		if class == "" {
			// "None of these" is never gold: a test item needs a class a
			// model could predict. A gold file's none row makes the item
			// an imported "none of these" (and, replacing, no longer gold).
			class, asGold = labelstore.NoneOption, false
			res.None++
		}
		old := r.item.Label
		u := update{id: r.item.ID, class: class}
		switch {
		case asGold:
			old = r.item.Gold
		case gold && r.item.Gold != "":
			old, u.role = r.item.Gold, labelstore.RolePool
		case r.item.Gold != "":
			res.OnGold++
		}
		switch {
		case old == class:
			res.Unchanged++
		case old != "":
			changes = append(changes, Change{Path: r.item.Path, Old: old, New: class})
		}
		if asGold {
			u.role = labelstore.RoleTest
			if h, ok := goldToPractice(p.cfg.Seed, r.item.Path, p.cfg.Practice.Share); ok {
				u.role = labelstore.RolePractice
				if r.item.Role != labelstore.RolePractice {
					cands = append(cands, cand{len(ups), h, r.item.Path})
				}
			}
		}
		if r.item.Role == labelstore.RolePractice && u.role != "" && u.role != labelstore.RolePractice {
			kept-- // the hash (another seed or share) or a none row takes it out of practice
		}
		ups = append(ups, u)
	}
	// The cap: the practice items that stay count first, then the new
	// candidates in the order of their hash value (the path breaks a tie).
	slices.SortFunc(cands, func(a, b cand) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.path, b.path))
	})
	room := p.cfg.Practice.MaxItems - kept
	for i, c := range cands {
		if i >= room {
			ups[c.up].role = labelstore.RoleTest
			res.OverMax++
		}
	}
	res.MaxPractice = p.cfg.Practice.MaxItems
	for _, u := range ups {
		switch u.role {
		case labelstore.RolePractice:
			res.Practice++
		case labelstore.RoleTest:
			res.Test++
		}
	}
	if len(changes) > 0 {
		if on != OnConflictReplace {
			return res, &ConflictError{File: file, Gold: gold, Changes: changes}
		}
		res.Replaced = changes
	}
	if err := p.store.Import(ctx, toImports(ups, func(u update) labelstore.Import {
		return labelstore.Import{Item: u.id, Class: u.class, Role: u.role}
	})); err != nil {
		return res, err
	}
	res.Imported = len(ups)
	return res, nil
}

func toImports[T any](in []T, f func(T) labelstore.Import) []labelstore.Import {
	out := make([]labelstore.Import, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// goldToPractice decides an item's side of the gold split from a hash of
// (seed, path): stable across imports, independent of file order. It
// returns the hash too, the order in which [practice] max_items admits
// the practice side's items.
func goldToPractice(seed uint64, p string, share float64) (uint64, bool) {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(p))
	u := binary.LittleEndian.Uint64(h.Sum(nil))
	return u, float64(u>>11)/(1<<53) < share
}

// importRow is a labels-file row that names a project item and class
// ("" for "none of these").
type importRow struct {
	item  labelstore.Item
	class string
}

// readImport reads a labels file to import and matches it against the
// project: rows naming an unknown path or class are counted in the result,
// the others returned, "none of these" (an empty label or "none") with
// class "". Two spellings of one path (x/1.png, ./x/1.png) with different
// labels are refused like one path given two labels.
func (p *Project) readImport(ctx context.Context, file, labelColumn string) (ImportResult, []importRow, error) {
	res := ImportResult{UnknownClasses: map[string]int{}}
	if labelColumn == "" {
		labelColumn = "label"
	}
	labels, err := dataset.ReadLabels(file, labelColumn)
	if err != nil {
		return res, nil, err
	}
	classes := map[string]bool{}
	for _, c := range p.cfg.Classes {
		classes[c.Name] = true
	}
	items, err := p.store.Items(ctx)
	if err != nil {
		return res, nil, err
	}
	byPath := make(map[string]labelstore.Item, len(items))
	for _, it := range items {
		byPath[it.Path] = it
	}
	var rows []importRow
	seen := map[labelstore.ItemID]int{} // item -> index in rows
	var conflicts []string
	res.Rows = len(labels.Order)
	for _, pth := range labels.Order {
		lab := labels.ByPath[pth]
		it, ok := byPath[pth]
		if !ok {
			it, ok = byPath[importPath(pth)]
		}
		switch {
		case !ok:
			res.UnknownPaths++
			if len(res.UnknownPathNames) < 3 {
				res.UnknownPathNames = append(res.UnknownPathNames, pth)
			}
		case lab != "" && !classes[lab]:
			res.UnknownClasses[lab]++
		default:
			if i, dup := seen[it.ID]; dup {
				if rows[i].class != lab {
					conflicts = append(conflicts, fmt.Sprintf("%s (%q and %q, as %s)", it.Path, rows[i].class, lab, pth))
				}
				continue
			}
			seen[it.ID] = len(rows)
			rows = append(rows, importRow{it, lab})
		}
	}
	if len(conflicts) > 0 {
		return res, nil, fmt.Errorf("%s gives %s two labels under two spellings of the path: %s", file, plural.N(len(conflicts), "image"), strings.Join(conflicts, "; "))
	}
	return res, rows, nil
}
