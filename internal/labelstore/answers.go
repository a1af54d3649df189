package labelstore

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// MaxClassLen bounds a class name in an answer (in bytes).
const MaxClassLen = 200

func (a *Answer) validate() error {
	set := 0
	if a.Class != "" {
		set++
	}
	if a.None {
		set++
	}
	if a.Skip {
		set++
	}
	switch {
	case set != 1:
		return fmt.Errorf("%w: an answer is exactly one of a class, \"none of these\" or skip", ErrInvalid)
	case a.Bad && a.Class == "":
		return fmt.Errorf("%w: \"bad example\" goes with a class", ErrInvalid)
	case len(a.Class) > MaxClassLen:
		return fmt.Errorf("%w: class name too long", ErrInvalid)
	}
	switch a.Kind {
	case KindPractice:
		if a.RoundID != 0 {
			return fmt.Errorf("%w: a practice answer belongs to no round", ErrInvalid)
		}
	case KindLabel:
		if a.RoundID == 0 {
			return fmt.Errorf("%w: a label answer needs its round", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: answer kind %q (want practice or label)", ErrInvalid, a.Kind)
	}
	return nil
}

// Record stores an answer and commits it before returning: an
// acknowledged answer survives the process being killed. It returns the
// answer's id.
//
// A label answer must be for a pick of its round, and the round must be
// open: for a closing or closed round Record returns ErrRoundClosed and
// stores nothing. A practice answer must be for a practice item. The class
// must be one of the classes set with SetClasses (when any are set).
func (s *Store) Record(ctx context.Context, a Answer) (int64, error) {
	if err := a.validate(); err != nil {
		return 0, err
	}
	at := now()
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var sessions int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE id = ?`, a.SessionID).Scan(&sessions); err != nil {
			return err
		}
		if sessions == 0 {
			return fmt.Errorf("%w: no session %d", ErrInvalid, a.SessionID)
		}
		if a.Class != "" {
			var known, total int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(name = ?), 0) FROM classes`, a.Class).Scan(&total, &known); err != nil {
				return err
			}
			if total > 0 && known == 0 {
				return fmt.Errorf("%w: unknown class %q", ErrInvalid, a.Class)
			}
		}
		var round any
		if a.Kind == KindLabel {
			var state string
			err := tx.QueryRowContext(ctx, `SELECT state FROM rounds WHERE id = ?`, a.RoundID).Scan(&state)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: no round %d", ErrInvalid, a.RoundID)
			}
			if err != nil {
				return err
			}
			if state != StateOpen {
				return ErrRoundClosed
			}
			var picked int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM picks WHERE round_id = ? AND item_id = ?`, a.RoundID, a.ItemID).Scan(&picked); err != nil {
				return err
			}
			if picked == 0 {
				// Hidden gold is in the session's queue without being a pick.
				hidden, _, err := s.hiddenFor(ctx, tx, a.SessionID, a.RoundID, s.pickCount(ctx, tx, a.RoundID))
				if err != nil {
					return err
				}
				if !slices.ContainsFunc(hidden, func(it Item) bool { return it.ID == a.ItemID }) {
					return fmt.Errorf("%w: item %d is not in round %d", ErrInvalid, a.ItemID, a.RoundID)
				}
			}
			round = a.RoundID
		} else {
			var role string
			err := tx.QueryRowContext(ctx, `SELECT role FROM items WHERE id = ?`, a.ItemID).Scan(&role)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && role != RolePractice) {
				return fmt.Errorf("%w: item %d is not a practice item", ErrInvalid, a.ItemID)
			}
			if err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO answers(session_id, item_id, round_id, kind, class, bad, none, skip, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.SessionID, a.ItemID, round, a.Kind, a.Class, b2i(a.Bad), b2i(a.None), b2i(a.Skip), at)
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

const answerCols = `a.id, a.session_id, a.item_id, COALESCE(a.round_id, 0), a.kind, a.class, a.bad, a.none, a.skip, a.at`

func scanAnswer(r scanner, extra ...any) (Answer, error) {
	var a Answer
	var at int64
	dst := append([]any{&a.ID, &a.SessionID, &a.ItemID, &a.RoundID, &a.Kind, &a.Class, &a.Bad, &a.None, &a.Skip, &at}, extra...)
	err := r.Scan(dst...)
	a.At = fromNanos(at)
	return a, err
}

type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// latestOf returns a session's answers in effect per item (the newest not
// undone) among the rows of query, which must select answerCols ordered by id.
func latestOf(ctx context.Context, q querier, query string, args ...any) (map[ItemID]Answer, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[ItemID]Answer{}
	for rows.Next() {
		a, err := scanAnswer(rows)
		if err != nil {
			return nil, err
		}
		out[a.ItemID] = a
	}
	return out, rows.Err()
}

// LatestPractice returns the session's practice answers in effect, one per
// practice item answered (the newest not undone).
func (s *Store) LatestPractice(ctx context.Context, sessionID int64) (map[ItemID]Answer, error) {
	return latestOf(ctx, s.db, `SELECT `+answerCols+` FROM answers a
		WHERE a.session_id = ? AND a.kind = 'practice' AND a.id NOT IN (SELECT answer_id FROM undos) ORDER BY a.id`, sessionID)
}

// QueueEntry is one item of a session's queue with the session's answer in
// effect, if any.
type QueueEntry struct {
	Item   Item
	Latest *Answer
}

// Queue returns the round's picks in this session's rotation order, each
// with the session's answer in effect. The first call for a (session,
// round) chooses where the rotation starts: at the least-covered pick (fewest
// participants with an answer in effect other than skip), breaking ties by
// the pick farthest from where the other sessions started, then by rank. So
// participants who arrive together spread over the batch, one who arrives
// late starts where the batch is thinnest, and N participants who finish
// cover every pick N times. The start is stored: the order never changes
// under a participant's feet.
func (s *Store) Queue(ctx context.Context, sessionID int64, roundID int64) ([]QueueEntry, error) {
	r, err := s.RoundByID(ctx, roundID)
	if err != nil {
		return nil, err
	}
	n := len(r.Picks)
	if n == 0 {
		return nil, nil
	}
	var start int
	err = s.db.QueryRowContext(ctx, `SELECT start FROM rotations WHERE session_id = ? AND round_id = ?`, sessionID, roundID).Scan(&start)
	if errors.Is(err, sql.ErrNoRows) {
		start, err = s.chooseStart(ctx, sessionID, r)
	}
	if err != nil {
		return nil, err
	}
	latest, err := latestOf(ctx, s.db, `SELECT `+answerCols+` FROM answers a
		WHERE a.session_id = ? AND a.round_id = ? AND a.kind = 'label' AND a.id NOT IN (SELECT answer_id FROM undos) ORDER BY a.id`,
		sessionID, roundID)
	if err != nil {
		return nil, err
	}
	items := map[ItemID]Item{}
	got, err := s.queryItems(ctx, `SELECT i.id, i.path, i.sha256, i.gold, i.role, i.label
		FROM picks p JOIN items i ON i.id = p.item_id WHERE p.round_id = ?`, roundID)
	if err != nil {
		return nil, err
	}
	for _, it := range got {
		items[it.ID] = it
	}
	out := make([]QueueEntry, n)
	for k := range n {
		id := r.Picks[(start+k)%n]
		e := QueueEntry{Item: items[id]}
		if a, ok := latest[id]; ok {
			e.Latest = &a
		}
		out[k] = e
	}
	hidden, at, err := s.hiddenFor(ctx, s.db, sessionID, roundID, n)
	if err != nil {
		return nil, err
	}
	for j, it := range hidden {
		e := QueueEntry{Item: it}
		if a, ok := latest[it.ID]; ok {
			e.Latest = &a
		}
		out = slices.Insert(out, min(at[j], len(out)), e)
	}
	return out, nil
}

// chooseStart picks and stores the session's rotation start, inside one
// write transaction so that two sessions arriving at once see each other.
func (s *Store) chooseStart(ctx context.Context, sessionID int64, r *Round) (int, error) {
	n := len(r.Picks)
	var start int
	err := s.write(ctx, func(tx *sql.Tx) error {
		// Another request of the same session may have chosen meanwhile.
		err := tx.QueryRowContext(ctx, `SELECT start FROM rotations WHERE session_id = ? AND round_id = ?`, sessionID, r.ID).Scan(&start)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		cover, err := coverage(ctx, tx, r.ID)
		if err != nil {
			return err
		}
		var starts []int
		rows, err := tx.QueryContext(ctx, `SELECT start FROM rotations WHERE round_id = ?`, r.ID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var st int
			if err := rows.Scan(&st); err != nil {
				rows.Close()
				return err
			}
			starts = append(starts, st)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		start = pickStart(n, func(rank int) int { return cover[r.Picks[rank]] }, starts)
		_, err = tx.ExecContext(ctx, `INSERT INTO rotations(session_id, round_id, start) VALUES (?, ?, ?)`, sessionID, r.ID, start)
		return err
	})
	return start, err
}

// pickStart returns the rank with the least coverage; among those, the one
// whose circular distance to the nearest existing start is largest; then
// the lowest rank.
func pickStart(n int, cover func(rank int) int, starts []int) int {
	best, bestCover, bestDist := -1, 0, -1
	for rank := range n {
		c := cover(rank)
		dist := n // no other session yet: every rank is as far
		for _, st := range starts {
			d := (rank - st + n) % n
			d = min(d, n-d)
			dist = min(dist, d)
		}
		if best < 0 || c < bestCover || (c == bestCover && dist > bestDist) {
			best, bestCover, bestDist = rank, c, dist
		}
	}
	return best
}

// coverage counts, per item of the round, the participants whose answer in
// effect is not a skip.
func coverage(ctx context.Context, q querier, roundID int64) (map[ItemID]int, error) {
	votes, err := roundVotes(ctx, q, roundID)
	if err != nil {
		return nil, err
	}
	cover := map[ItemID]int{}
	for _, v := range votes {
		if !v.Skip {
			cover[v.ItemID]++
		}
	}
	return cover, nil
}

// Vote is a participant's answer in effect for an item.
type Vote struct {
	Answer
	ParticipantID int64
}

// roundVotes returns, per participant and item of the round, the answer in
// effect (the newest not undone).
func roundVotes(ctx context.Context, q querier, roundID int64) ([]Vote, error) {
	return votes(ctx, q, `SELECT `+answerCols+`, s.participant_id FROM answers a JOIN sessions s ON s.id = a.session_id
		WHERE a.round_id = ? AND a.kind = 'label' AND a.id NOT IN (SELECT answer_id FROM undos) ORDER BY a.id`, roundID)
}

func votes(ctx context.Context, q querier, query string, args ...any) ([]Vote, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type key struct {
		p    int64
		item ItemID
	}
	idx := map[key]int{}
	var out []Vote
	for rows.Next() {
		var v Vote
		a, err := scanAnswer(rows, &v.ParticipantID)
		if err != nil {
			return nil, err
		}
		v.Answer = a
		k := key{v.ParticipantID, a.ItemID}
		if i, ok := idx[k]; ok {
			out[i] = v
		} else {
			idx[k] = len(out)
			out = append(out, v)
		}
	}
	return out, rows.Err()
}

// Votes returns each participant's label answer in effect per item, over
// every round that is not open (closing or closed): a participant who
// answered an item in two rounds votes once, with the newer answer.
func (s *Store) Votes(ctx context.Context) ([]Vote, error) {
	// Imported answers (import-labels --participant) have no round: they
	// vote as if from a closed one.
	return votes(ctx, s.db, `SELECT `+answerCols+`, s.participant_id FROM answers a
		JOIN sessions s ON s.id = a.session_id LEFT JOIN rounds r ON r.id = a.round_id
		WHERE a.kind = 'label' AND (a.round_id IS NULL OR r.state != 'open') AND a.id NOT IN (SELECT answer_id FROM undos) ORDER BY a.id`)
}

// Undo marks the session's newest answer in effect in the round (roundID 0:
// its practice answers) as undone and returns it; the answer it replaced,
// if any, counts again. Nothing is deleted. ErrNotFound when there is
// nothing to undo; ErrRoundClosed when the round is no longer open.
func (s *Store) Undo(ctx context.Context, sessionID int64, roundID int64) (*Answer, error) {
	var undone *Answer
	err := s.write(ctx, func(tx *sql.Tx) error {
		var row *sql.Row
		if roundID == 0 {
			row = tx.QueryRowContext(ctx, `SELECT `+answerCols+` FROM answers a
				WHERE a.session_id = ? AND a.kind = 'practice' AND a.id NOT IN (SELECT answer_id FROM undos)
				ORDER BY a.id DESC LIMIT 1`, sessionID)
		} else {
			var state string
			err := tx.QueryRowContext(ctx, `SELECT state FROM rounds WHERE id = ?`, roundID).Scan(&state)
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			if err != nil {
				return err
			}
			if state != StateOpen {
				return ErrRoundClosed
			}
			row = tx.QueryRowContext(ctx, `SELECT `+answerCols+` FROM answers a
				WHERE a.session_id = ? AND a.round_id = ? AND a.kind = 'label' AND a.id NOT IN (SELECT answer_id FROM undos)
				ORDER BY a.id DESC LIMIT 1`, sessionID, roundID)
		}
		a, err := scanAnswer(row)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO undos(answer_id, at) VALUES (?, ?)`, a.ID, now()); err != nil {
			return err
		}
		undone = &a
		return nil
	})
	return undone, err
}

// AnswerRow is an answer for the admin views.
type AnswerRow struct {
	Answer
	Participant string // display name, "" for anonymous
	Path        string
	// ParticipantID identifies anonymous participants apart.
	ParticipantID int64
	// Undone is set when the answer was undone; Superseded when the same
	// participant answered the item again later in the round.
	Undone, Superseded bool
}

// RoundAnswers returns every answer given in the round, oldest first, with
// participant and path; undone and superseded answers are included and
// marked, as history is kept.
func (s *Store) RoundAnswers(ctx context.Context, roundID int64) ([]AnswerRow, error) {
	return s.answerRows(ctx, `WHERE a.round_id = ?`, roundID)
}

func (s *Store) answerRows(ctx context.Context, where string, args ...any) ([]AnswerRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+answerCols+`, p.name, p.id, i.path, (u.answer_id IS NOT NULL)
		FROM answers a JOIN sessions s ON s.id = a.session_id JOIN participants p ON p.id = s.participant_id
		JOIN items i ON i.id = a.item_id LEFT JOIN undos u ON u.answer_id = a.id `+where+` ORDER BY a.id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AnswerRow
	for rows.Next() {
		var r AnswerRow
		a, err := scanAnswer(rows, &r.Participant, &r.ParticipantID, &r.Path, &r.Undone)
		if err != nil {
			return nil, err
		}
		r.Answer = a
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Superseded: a later answer in effect by the same participant for the
	// same item, kind and round.
	type key struct {
		p     int64
		item  ItemID
		round int64
		kind  string
	}
	seen := map[key]bool{}
	for i := len(out) - 1; i >= 0; i-- {
		k := key{out[i].ParticipantID, out[i].ItemID, out[i].RoundID, out[i].Kind}
		if out[i].Undone {
			continue
		}
		if seen[k] {
			out[i].Superseded = true
		}
		seen[k] = true
	}
	return out, nil
}

// ExportAnswers writes every answer ever given as CSV, oldest first:
// participant (display name), session (id), item (id), path, answer (the
// class, "none" or "skip"), bad, none, skip, kind, round (number, empty for
// practice), time (RFC 3339, UTC), then participant_id, undone and
// superseded. Values are written verbatim.
func (s *Store) ExportAnswers(ctx context.Context, w io.Writer) error {
	rows, err := s.answerRows(ctx, ``)
	if err != nil {
		return err
	}
	numbers := map[int64]int{}
	rounds, err := s.Rounds(ctx)
	if err != nil {
		return err
	}
	for _, r := range rounds {
		numbers[r.ID] = r.Number
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"participant", "session", "item", "path", "answer", "bad", "none", "skip", "kind", "round", "time",
		"participant_id", "undone", "superseded"})
	for _, r := range rows {
		ans := r.Class
		switch {
		case r.None:
			ans = "none"
		case r.Skip:
			ans = "skip"
		}
		round := ""
		if r.RoundID != 0 {
			round = strconv.Itoa(numbers[r.RoundID])
		}
		if err := cw.Write([]string{r.Participant, strconv.FormatInt(r.SessionID, 10), strconv.FormatInt(int64(r.ItemID), 10),
			r.Path, ans, strconv.FormatBool(r.Bad), strconv.FormatBool(r.None), strconv.FormatBool(r.Skip), r.Kind, round,
			r.At.Format(time.RFC3339Nano), strconv.FormatInt(r.ParticipantID, 10), strconv.FormatBool(r.Undone),
			strconv.FormatBool(r.Superseded)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Counts summarises the database for status lines.
type Counts struct {
	// Pool, Practice, Test and Imported split Items: Pool is what is left
	// to pick (no gold, no imported label), Imported the items that are
	// not gold but have an imported label ("none of these" included).
	Items, Pool, Practice, Test, Imported int
	Participants, Sessions                int
	Answers, LabelAnswers                 int
}

// Count returns the Counts.
func (s *Store) Count(ctx context.Context) (Counts, error) {
	var c Counts
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM items),
		(SELECT COUNT(*) FROM items WHERE role = 'pool' AND label = ''),
		(SELECT COUNT(*) FROM items WHERE role = 'practice'),
		(SELECT COUNT(*) FROM items WHERE role = 'test'),
		(SELECT COUNT(*) FROM items WHERE role = 'pool' AND label != ''),
		(SELECT COUNT(*) FROM participants),
		(SELECT COUNT(*) FROM sessions),
		(SELECT COUNT(*) FROM answers),
		(SELECT COUNT(*) FROM answers WHERE kind = 'label')`).Scan(
		&c.Items, &c.Pool, &c.Practice, &c.Test, &c.Imported, &c.Participants, &c.Sessions, &c.Answers, &c.LabelAnswers)
	return c, err
}

// pickCount is the number of picks of a round (0 on error: no hidden gold).
func (s *Store) pickCount(ctx context.Context, q querier, roundID int64) int {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM picks WHERE round_id = ?`, roundID).Scan(&n); err != nil {
		return 0
	}
	return n
}
