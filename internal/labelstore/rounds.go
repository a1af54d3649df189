package labelstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

func (s *Store) loadPicks(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, r *Round) error {
	rows, err := q.QueryContext(ctx, `SELECT item_id FROM picks WHERE round_id = ? ORDER BY rank`, r.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	r.Picks = r.Picks[:0]
	for rows.Next() {
		var id ItemID
		if err := rows.Scan(&id); err != nil {
			return err
		}
		r.Picks = append(r.Picks, id)
	}
	return rows.Err()
}

func scanRound(r scanner) (*Round, error) {
	var rd Round
	var opened, closed int64
	if err := r.Scan(&rd.ID, &rd.Number, &rd.State, &opened, &closed); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	rd.Opened, rd.Closed = fromNanos(opened), fromNanos(closed)
	return &rd, nil
}

const roundCols = `id, number, state, opened, closed`

// CurrentRound returns the open or closing round with its picks, or
// ErrNotFound when there is none (before the first, or after the pool ran
// out).
func (s *Store) CurrentRound(ctx context.Context) (*Round, error) {
	r, err := scanRound(s.db.QueryRowContext(ctx, `SELECT `+roundCols+` FROM rounds WHERE state != 'closed'`))
	if err != nil {
		return nil, err
	}
	return r, s.loadPicks(ctx, s.db, r)
}

// RoundByID returns a round with its picks, or ErrNotFound.
func (s *Store) RoundByID(ctx context.Context, id int64) (*Round, error) {
	r, err := scanRound(s.db.QueryRowContext(ctx, `SELECT `+roundCols+` FROM rounds WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	return r, s.loadPicks(ctx, s.db, r)
}

// Rounds returns every round with its picks, oldest first.
func (s *Store) Rounds(ctx context.Context) ([]Round, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+roundCols+` FROM rounds ORDER BY number`)
	if err != nil {
		return nil, err
	}
	var out []Round
	for rows.Next() {
		r, err := scanRound(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, *r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if err := s.loadPicks(ctx, s.db, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ErrRoundActive is returned by OpenRound while another round is open or
// closing.
var ErrRoundActive = errors.New("labelstore: a round is already open")

// OpenRound opens the next round with the given picks in rank order.
func (s *Store) OpenRound(ctx context.Context, picks []ItemID) (*Round, error) {
	var r *Round
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = openRound(ctx, tx, picks)
		return err
	})
	return r, err
}

func openRound(ctx context.Context, tx *sql.Tx, picks []ItemID) (*Round, error) {
	if len(picks) == 0 {
		return nil, fmt.Errorf("%w: a round needs at least one pick", ErrInvalid)
	}
	var active int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM rounds WHERE state != 'closed'`).Scan(&active); err != nil {
		return nil, err
	}
	if active > 0 {
		return nil, ErrRoundActive
	}
	var number int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(number), 0) + 1 FROM rounds`).Scan(&number); err != nil {
		return nil, err
	}
	t := now()
	res, err := tx.ExecContext(ctx, `INSERT INTO rounds(number, state, opened) VALUES (?, 'open', ?)`, number, t)
	if err != nil {
		return nil, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, err
	}
	for rank, item := range picks {
		if _, err := tx.ExecContext(ctx, `INSERT INTO picks(round_id, rank, item_id) VALUES (?, ?, ?)`, id, rank, item); err != nil {
			return nil, fmt.Errorf("pick %d (item %d): %w", rank+1, item, err)
		}
	}
	return &Round{ID: id, Number: number, State: StateOpen, Opened: fromNanos(t), Picks: append([]ItemID(nil), picks...)}, nil
}

// BeginClose moves an open round to "closing": from then on Record refuses
// its label answers (ErrRoundClosed), so the consensus built next sees a
// fixed set. It fails if the round is not open (someone else is closing it).
func (s *Store) BeginClose(ctx context.Context, roundID int64) error {
	return s.setState(ctx, roundID, StateOpen, StateClosing)
}

// AbortClose reopens a round whose closing failed or was cancelled.
func (s *Store) AbortClose(ctx context.Context, roundID int64) error {
	return s.setState(ctx, roundID, StateClosing, StateOpen)
}

func (s *Store) setState(ctx context.Context, roundID int64, from, to string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		var state string
		err := tx.QueryRowContext(ctx, `SELECT state FROM rounds WHERE id = ?`, roundID).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if state != from {
			return fmt.Errorf("%w: round %d is %s, not %s", ErrInvalid, roundID, state, from)
		}
		_, err = tx.ExecContext(ctx, `UPDATE rounds SET state = ? WHERE id = ?`, to, roundID)
		return err
	})
}

// FinishClose closes a closing round and, if next has picks, opens the
// next round with them, in one transaction: there is never a moment with
// the old round closed and no new one when a new one is due.
func (s *Store) FinishClose(ctx context.Context, roundID int64, next []ItemID) (*Round, error) {
	var r *Round
	err := s.write(ctx, func(tx *sql.Tx) error {
		var state string
		err := tx.QueryRowContext(ctx, `SELECT state FROM rounds WHERE id = ?`, roundID).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if state != StateClosing {
			return fmt.Errorf("%w: round %d is %s, not closing", ErrInvalid, roundID, state)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE rounds SET state = 'closed', closed = ? WHERE id = ?`, now(), roundID); err != nil {
			return err
		}
		if len(next) > 0 {
			r, err = openRound(ctx, tx, next)
		}
		return err
	})
	return r, err
}
