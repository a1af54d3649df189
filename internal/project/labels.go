package project

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/labelstore"
)

// ImportResult counts what ImportLabels did with every row.
type ImportResult struct {
	Rows             int            // rows with a path
	Imported         int            // labels recorded (gold or not)
	Practice, Test   int            // gold labels by role given
	Empty            int            // rows with an empty label (ignored)
	UnknownPaths     int            // paths not among the project's images
	UnknownClasses   map[string]int // label -> rows whose label is not a class of the project
	UnknownPathNames []string       // the first few unknown paths, for the message
}

// String is a one-line account.
func (r ImportResult) String() string {
	s := fmt.Sprintf("%d rows: %d labels imported", r.Rows, r.Imported)
	if r.Practice+r.Test > 0 {
		s += fmt.Sprintf(" (gold: %d practice, %d test)", r.Practice, r.Test)
	}
	if r.Empty > 0 {
		s += fmt.Sprintf(", %d empty labels ignored", r.Empty)
	}
	if r.UnknownPaths > 0 {
		s += fmt.Sprintf(", %d unknown paths (e.g. %s)", r.UnknownPaths, strings.Join(r.UnknownPathNames, ", "))
	}
	if len(r.UnknownClasses) > 0 {
		var parts []string
		total := 0
		for c, n := range r.UnknownClasses {
			parts = append(parts, fmt.Sprintf("%q: %d", c, n))
			total += n
		}
		sort.Strings(parts)
		s += fmt.Sprintf(", %d rows with unknown classes (%s)", total, strings.Join(parts, ", "))
	}
	return s
}

// ImportLabels adds known labels from a CSV with a "path" column and the
// label column (default "label"); paths are as featurize recorded them,
// relative to the image root. Gold labels feed practice and the test set:
// each is put in one or the other by a hash of (seed, path), so the split is
// stable and does not depend on the file's order. Other labels train but
// never test. Unknown paths and classes are counted, not fatal; a file that
// cannot be read, or gives one path two labels, imports nothing.
func (p *Project) ImportLabels(ctx context.Context, file, labelColumn string, gold bool) (ImportResult, error) {
	res, rows, err := p.readImport(ctx, file, labelColumn)
	if err != nil {
		return res, err
	}
	type update struct {
		id          labelstore.ItemID
		class, role string
	}
	var ups []update
	for _, r := range rows {
		u := update{id: r.item.ID, class: r.class}
		if gold {
			u.role = labelstore.RoleTest
			if goldToPractice(p.cfg.Seed, r.item.Path, p.cfg.Practice.Share) {
				u.role = labelstore.RolePractice
				res.Practice++
			} else {
				res.Test++
			}
		}
		ups = append(ups, u)
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
// (seed, path): stable across imports, independent of file order.
func goldToPractice(seed uint64, p string, share float64) bool {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(p))
	u := binary.LittleEndian.Uint64(h.Sum(nil))
	return float64(u>>11)/(1<<53) < share
}

// importRow is a labels-file row that names a project item and class.
type importRow struct {
	item  labelstore.Item
	class string
}

// readImport reads a labels file to import and matches it against the
// project: rows naming an unknown path or class, or with no label, are
// counted in the result, the others returned.
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
	res.Rows = len(labels.Order)
	for _, pth := range labels.Order {
		lab := labels.ByPath[pth]
		it, ok := byPath[pth]
		if !ok {
			it, ok = byPath[path.Clean(strings.ReplaceAll(pth, `\`, "/"))]
		}
		switch {
		case !ok:
			res.UnknownPaths++
			if len(res.UnknownPathNames) < 3 {
				res.UnknownPathNames = append(res.UnknownPathNames, pth)
			}
		case lab == "":
			res.Empty++
		case !classes[lab]:
			res.UnknownClasses[lab]++
		default:
			rows = append(rows, importRow{it, lab})
		}
	}
	return res, rows, nil
}
