package labelstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

const itemCols = `id, path, sha256, gold, role, label`

type scanner interface{ Scan(...any) error }

func scanItem(r scanner) (Item, error) {
	var it Item
	err := r.Scan(&it.ID, &it.Path, &it.SHA256, &it.Gold, &it.Role, &it.Label)
	return it, err
}

// AddItems registers images by path; a path already known keeps its id and
// gets the new sha256 (the file may have been replaced and featurized
// again). It returns how many paths were new.
func (s *Store) AddItems(ctx context.Context, items []Item) (int, error) {
	added := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		added = 0
		for _, it := range items {
			if it.Path == "" {
				return fmt.Errorf("%w: an item without a path", ErrInvalid)
			}
			var id int64
			err := tx.QueryRowContext(ctx, `SELECT id FROM items WHERE path = ?`, it.Path).Scan(&id)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				if _, err := tx.ExecContext(ctx, `INSERT INTO items(path, sha256) VALUES (?, ?)`, it.Path, it.SHA256); err != nil {
					return err
				}
				added++
			case err != nil:
				return err
			default:
				if _, err := tx.ExecContext(ctx, `UPDATE items SET sha256 = ? WHERE id = ?`, it.SHA256, id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// Item returns the item with the given id, or ErrNotFound.
func (s *Store) Item(ctx context.Context, id ItemID) (*Item, error) {
	it, err := scanItem(s.db.QueryRowContext(ctx, `SELECT `+itemCols+` FROM items WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &it, nil
}

// ItemByPath returns the item with the given path, or ErrNotFound.
func (s *Store) ItemByPath(ctx context.Context, path string) (*Item, error) {
	it, err := scanItem(s.db.QueryRowContext(ctx, `SELECT `+itemCols+` FROM items WHERE path = ?`, path))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &it, nil
}

// Items returns every item, by id.
func (s *Store) Items(ctx context.Context) ([]Item, error) {
	return s.queryItems(ctx, `SELECT `+itemCols+` FROM items ORDER BY id`)
}

// PracticeItems returns the gold items set aside for practice, by id;
// with hidden gold on, without the half reserved for it (HiddenReserved).
func (s *Store) PracticeItems(ctx context.Context) ([]Item, error) {
	items, err := s.queryItems(ctx, `SELECT `+itemCols+` FROM items WHERE role = 'practice' ORDER BY id`)
	if err != nil || s.HiddenGold() <= 0 {
		return items, err
	}
	out := items[:0]
	for _, it := range items {
		if !HiddenReserved(it.Path) {
			out = append(out, it)
		}
	}
	return out, nil
}

// TestItems returns the gold items set aside for testing models, by id.
func (s *Store) TestItems(ctx context.Context) ([]Item, error) {
	return s.queryItems(ctx, `SELECT `+itemCols+` FROM items WHERE role = 'test' ORDER BY id`)
}

func (s *Store) queryItems(ctx context.Context, query string, args ...any) ([]Item, error) {
	return queryItemsQ(ctx, s.db, query, args...)
}

// queryItemsQ runs an items query on q: the store, or a transaction.
func queryItemsQ(ctx context.Context, q querier, query string, args ...any) ([]Item, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// SetGold records a gold label and the item's role ("practice" or "test";
// "pool" with an empty label removes the gold label).
func (s *Store) SetGold(ctx context.Context, id ItemID, class, role string) error {
	switch {
	case class == "" && role == RolePool:
	case class != "" && (role == RolePractice || role == RoleTest):
	default:
		return fmt.Errorf("%w: gold %q with role %q", ErrInvalid, class, role)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		return mustAffect(tx.ExecContext(ctx, `UPDATE items SET gold = ?, role = ? WHERE id = ?`, class, role, id))
	})
}

// SetLabel records an imported (non-gold) label; "" removes it.
func (s *Store) SetLabel(ctx context.Context, id ItemID, class string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		return mustAffect(tx.ExecContext(ctx, `UPDATE items SET label = ? WHERE id = ?`, class, id))
	})
}

func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// SetClasses records the project's classes in order. Record then refuses
// answers naming any other class. The project calls it at every Open, so
// the database follows winnow.toml.
func (s *Store) SetClasses(ctx context.Context, classes []string) error {
	seen := map[string]bool{}
	for _, c := range classes {
		if c == "" || seen[c] {
			return fmt.Errorf("%w: class names must be non-empty and distinct, got %q", ErrInvalid, classes)
		}
		seen[c] = true
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM classes`); err != nil {
			return err
		}
		for i, c := range classes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO classes(pos, name) VALUES (?, ?)`, i, c); err != nil {
				return err
			}
		}
		return nil
	})
}

// Classes returns the classes recorded by SetClasses, in order.
func (s *Store) Classes(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM classes ORDER BY pos`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SetExamples sets the example items shown for a class on the Learn page,
// in order (replacing the previous choice).
func (s *Store) SetExamples(ctx context.Context, class string, ids []ItemID) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM examples WHERE class = ?`, class); err != nil {
			return err
		}
		for i, id := range ids {
			if _, err := tx.ExecContext(ctx, `INSERT INTO examples(class, pos, item_id) VALUES (?, ?, ?)`, class, i, id); err != nil {
				return fmt.Errorf("example %d for %q: %w", id, class, err)
			}
		}
		return nil
	})
}

// ExamplesByClass returns every class's example items, each in the chosen
// order, in one query: the pages that show them show every class.
func (s *Store) ExamplesByClass(ctx context.Context) (map[string][]Item, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT e.class, i.id, i.path, i.sha256, i.gold, i.role, i.label
		FROM examples e JOIN items i ON i.id = e.item_id ORDER BY e.class, e.pos`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]Item{}
	for rows.Next() {
		var class string
		it, err := scanItem(prefixScanner{rows, &class})
		if err != nil {
			return nil, err
		}
		out[class] = append(out[class], it)
	}
	return out, rows.Err()
}

// prefixScanner scans leading columns into its own destinations before
// the ones its caller passes, so scanItem reads an item after other columns.
type prefixScanner struct {
	r      scanner
	prefix any
}

func (p prefixScanner) Scan(dest ...any) error {
	return p.r.Scan(append([]any{p.prefix}, dest...)...)
}

// Import is one imported label: gold when Role is "practice" or "test",
// otherwise ("") a label that trains but does not test; RolePool sets that
// label and takes the item's gold label away. Class NoneOption is "none of
// these": the item neither trains nor is picked.
type Import struct {
	Item  ItemID
	Class string
	Role  string
}

// Import records many labels in one transaction: all or none.
func (s *Store) Import(ctx context.Context, labels []Import) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, l := range labels {
			var err error
			switch {
			case l.Class == "":
				return fmt.Errorf("%w: an empty imported label for item %d", ErrInvalid, l.Item)
			case l.Role == "":
				err = mustAffect(tx.ExecContext(ctx, `UPDATE items SET label = ? WHERE id = ?`, l.Class, l.Item))
			case l.Role == RolePool:
				err = mustAffect(tx.ExecContext(ctx, `UPDATE items SET label = ?, gold = '', role = 'pool' WHERE id = ?`, l.Class, l.Item))
			case l.Class == NoneOption:
				return fmt.Errorf("%w: \"none of these\" cannot be a gold label (item %d)", ErrInvalid, l.Item)
			case l.Role == RolePractice || l.Role == RoleTest:
				err = mustAffect(tx.ExecContext(ctx, `UPDATE items SET gold = ?, role = ? WHERE id = ?`, l.Class, l.Role, l.Item))
			default:
				return fmt.Errorf("%w: role %q", ErrInvalid, l.Role)
			}
			if err != nil {
				return fmt.Errorf("item %d: %w", l.Item, err)
			}
		}
		return nil
	})
}
