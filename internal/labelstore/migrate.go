package labelstore

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema's history: migrations[i] takes the database
// from version i to i+1. Append only; never edit one that has shipped, as
// databases in the field have already run it.
var migrations = []string{
	// 1: the first schema.
	`
CREATE TABLE items (
	id      INTEGER PRIMARY KEY,
	path    TEXT NOT NULL UNIQUE,
	sha256  TEXT NOT NULL,
	gold    TEXT NOT NULL DEFAULT '',
	label   TEXT NOT NULL DEFAULT '',
	role    TEXT NOT NULL DEFAULT 'pool' CHECK (role IN ('pool', 'practice', 'test'))
);
CREATE TABLE classes (
	pos  INTEGER NOT NULL,
	name TEXT NOT NULL PRIMARY KEY
);
CREATE TABLE participants (
	id      INTEGER PRIMARY KEY,
	name    TEXT NOT NULL,
	created INTEGER NOT NULL
);
CREATE TABLE sessions (
	id             INTEGER PRIMARY KEY,
	-- sha256 of the cookie value: a copy of the database gives no one a
	-- working session.
	token_hash     TEXT NOT NULL UNIQUE,
	participant_id INTEGER NOT NULL REFERENCES participants(id),
	csrf           TEXT NOT NULL,
	created        INTEGER NOT NULL
);
CREATE TABLE rounds (
	id     INTEGER PRIMARY KEY,
	number INTEGER NOT NULL UNIQUE,
	state  TEXT NOT NULL CHECK (state IN ('open', 'closing', 'closed')),
	opened INTEGER NOT NULL,
	closed INTEGER NOT NULL DEFAULT 0
);
-- At most one round is not closed.
CREATE UNIQUE INDEX rounds_one_active ON rounds(state) WHERE state != 'closed';
CREATE TABLE picks (
	round_id INTEGER NOT NULL REFERENCES rounds(id),
	rank     INTEGER NOT NULL,
	item_id  INTEGER NOT NULL REFERENCES items(id),
	PRIMARY KEY (round_id, rank),
	UNIQUE (round_id, item_id)
);
-- Where each session's rotation over a round's picks starts (a rank).
CREATE TABLE rotations (
	session_id INTEGER NOT NULL REFERENCES sessions(id),
	round_id   INTEGER NOT NULL REFERENCES rounds(id),
	start      INTEGER NOT NULL,
	PRIMARY KEY (session_id, round_id)
);
CREATE TABLE answers (
	id         INTEGER PRIMARY KEY,
	session_id INTEGER NOT NULL REFERENCES sessions(id),
	item_id    INTEGER NOT NULL REFERENCES items(id),
	round_id   INTEGER REFERENCES rounds(id),
	kind       TEXT NOT NULL CHECK (kind IN ('practice', 'label')),
	class      TEXT NOT NULL,
	bad        INTEGER NOT NULL CHECK (bad IN (0, 1)),
	none       INTEGER NOT NULL CHECK (none IN (0, 1)),
	skip       INTEGER NOT NULL CHECK (skip IN (0, 1)),
	at         INTEGER NOT NULL
);
CREATE INDEX answers_round ON answers(round_id, item_id);
CREATE INDEX answers_session ON answers(session_id, item_id);
-- Undo removes nothing: it marks an answer undone, and the answer before it
-- (if any) counts again.
CREATE TABLE undos (
	answer_id INTEGER NOT NULL PRIMARY KEY REFERENCES answers(id),
	at        INTEGER NOT NULL
);
CREATE TABLE examples (
	class   TEXT NOT NULL,
	pos     INTEGER NOT NULL,
	item_id INTEGER NOT NULL REFERENCES items(id),
	PRIMARY KEY (class, item_id)
);
-- One row per trained and evaluated model: round 0 is the model trained at
-- init (on gold practice items and imported labels), round N the one
-- trained when round N closed.
CREATE TABLE evaluations (
	round_number INTEGER NOT NULL PRIMARY KEY,
	at           INTEGER NOT NULL,
	labels       INTEGER NOT NULL,
	test_items   INTEGER NOT NULL,
	accuracy     REAL,
	log_loss     REAL,
	macro_auc    REAL,
	model        TEXT NOT NULL,
	report       TEXT NOT NULL,
	report_html  TEXT NOT NULL,
	summary      TEXT NOT NULL
);
`,
}

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int { return len(migrations) }

func (s *Store) migrate(ctx context.Context) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return err
		}
		if have > len(migrations) {
			return fmt.Errorf("the database has schema version %d, newer than this winnow knows (%d): it was written by a newer winnow; use that one (this one would not understand the data)", have, len(migrations))
		}
		for v := have; v < len(migrations); v++ {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migration %d: %w", v+1, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied) VALUES (?, ?)`, v+1, now()); err != nil {
				return err
			}
		}
		return nil
	})
}

// Version returns the schema version of the open database.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
