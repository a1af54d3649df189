// Package labelstore keeps a project's people-made data in SQLite: the items
// (images) and their gold or imported labels, participants and their sessions,
// rounds and their picks, and every answer ever given, with its time.
//
// Durability: the database runs in WAL mode with synchronous=NORMAL. A
// committed transaction survives a killed process (SIGKILL, a crash, an OOM
// kill): the WAL is written before the commit returns and the OS keeps it.
// It does not necessarily survive a power cut or a kernel panic, which
// would need synchronous=FULL and an fsync per answer; for a labelling site
// the cost (a disk flush per click) outweighs losing the last second of
// answers in a power cut.
//
// Writes are serialised by a mutex and each runs in one short BEGIN
// IMMEDIATE transaction, so no two writers ever race for SQLite's lock and
// busy_timeout only covers other processes (the CLI reading while the
// server writes). Every statement is a constant with ? parameters.
package labelstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3" // also registers the "sqlite3" driver
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("labelstore: not found")

// ErrRoundClosed is returned by Record for a label answer whose round is
// closing or closed: its consensus is being (or has been) built, so a late
// answer could not count. The answer is not stored; the caller should tell
// the participant, and the item comes back in a later round if it is still
// wanted.
var ErrRoundClosed = errors.New("labelstore: this round is closed; the answer was not saved")

// ErrInvalid wraps answers and arguments the store refuses.
var ErrInvalid = errors.New("labelstore: invalid")

// ItemID identifies an item (an image) in the store.
type ItemID int64

// Item is one image of the project.
type Item struct {
	ID     ItemID
	Path   string // as featurize recorded it, relative to the project's image root
	SHA256 string
	Gold   string // "" when unknown
	Role   string // "pool", "practice" or "test" (gold items are split into practice and test)
	// Label is an imported, non-gold label ("" when none): it trains but is
	// not used to test.
	Label string
}

// Roles of an item.
const (
	RolePool     = "pool"
	RolePractice = "practice"
	RoleTest     = "test"
)

// Session is one browser's visit: a participant may come back with the
// same cookie, which keeps the session.
type Session struct {
	ID            int64
	Token         string // random, 32 bytes base64url; the cookie value
	ParticipantID int64
	Name          string // display name, "" = anonymous
	CSRF          string // random per session
	Created       time.Time
}

// Round states.
const (
	StateOpen    = "open"
	StateClosing = "closing"
	StateClosed  = "closed"
)

// Round is one batch of picks to label.
type Round struct {
	ID     int64
	Number int    // 1, 2, ...
	State  string // "open", "closing", "closed"
	Opened time.Time
	Closed time.Time // zero while open
	Picks  []ItemID  // in rank order
}

// Answer kinds.
const (
	KindPractice = "practice"
	KindLabel    = "label"
)

// Answer is one answer as given. Exactly one of Class, None and Skip is set;
// Bad goes with a Class.
type Answer struct {
	ID        int64
	SessionID int64
	ItemID    ItemID
	RoundID   int64  // 0 for practice
	Kind      string // "practice" or "label"
	Class     string // "" with None or Skip
	Bad       bool   // "bad example" flag alongside Class
	None      bool   // "none of these"
	Skip      bool
	At        time.Time
}

// Store is an open database. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
	// wmu serialises write transactions (see the package comment).
	wmu sync.Mutex
	// hiddenGold is the float64 bits of the hidden gold share (SetHiddenGold).
	hiddenGold atomic.Uint64
}

// ErrNotWinnow is returned by OpenExisting and OpenReadOnly for a file
// that is missing or is not a winnow database: a verb that reads a project
// must never create an empty database in its place, which would look like
// a project with no images.
var ErrNotWinnow = errors.New("not a winnow database")

// Open opens (creating if needed) the database at path and brings its
// schema up to date. A database written by a newer winnow is refused. Only
// init creates a project's database; every other verb uses OpenExisting.
func Open(path string) (*Store, error) {
	// The pragmas go in the DSN so every pooled connection gets them;
	// _txlock=immediate makes every BeginTx a BEGIN IMMEDIATE, which takes
	// the write lock up front instead of failing half-way with SQLITE_BUSY.
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_foreign_keys", "on")
	q.Set("_busy_timeout", "10000")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite3", dsn(path, q))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// Participants' names and answers are nobody else's business on a
	// shared machine; SQLite gives its -wal and -shm files the same mode.
	// Best effort: a database owned by another user keeps its mode.
	_ = os.Chmod(path, 0o600)
	return s, nil
}

// OpenExisting opens a database that must already be a winnow database
// (ErrNotWinnow otherwise), migrating it as Open does.
func OpenExisting(path string) (*Store, error) {
	ro, err := openWinnowRO(path)
	if err != nil {
		return nil, err
	}
	ro.Close()
	return Open(path)
}

// OpenReadOnly opens an existing winnow database for reading only: nothing
// is migrated, created or written, so status and assess work on a project
// the user may not write (a read-only mount, another user's folder) and
// leave the file as it was. Writes through the Store fail.
func OpenReadOnly(path string) (*Store, error) {
	s, err := openWinnowRO(path)
	if err != nil {
		return nil, err
	}
	v, err := s.Version(context.Background())
	switch {
	case err != nil:
	case v > len(migrations):
		err = fmt.Errorf("the database has schema version %d, newer than this winnow knows (%d): it was written by a newer winnow; use that one", v, len(migrations))
	case v < len(migrations):
		err = fmt.Errorf("schema version %d, older than this winnow's %d: open it once with a verb that writes (serve, round close) to migrate it", v, len(migrations))
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// openWinnowRO opens path read-only after checking that it is a winnow
// database.
func openWinnowRO(path string) (*Store, error) {
	if err := sniff(path); err != nil {
		return nil, err
	}
	s, err := openRO(path, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	err = s.checkTables(context.Background())
	if isCantOpen(err) {
		// A WAL database needs its -shm file, which a reader must create
		// if the last writer removed it; in a folder the user cannot
		// write, SQLite can only read the file as immutable (safe: with no
		// write access to the folder, no writer can make a WAL this reader
		// would miss).
		s.Close()
		if s, err = openRO(path, true); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		err = s.checkTables(context.Background())
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func openRO(path string, immutable bool) (*Store, error) {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_busy_timeout", "10000")
	if immutable {
		q.Set("immutable", "1")
	}
	db, err := sql.Open("sqlite3", dsn(path, q))
	if err != nil {
		return nil, err
	}
	return &Store{db: db, path: path}, nil
}

func dsn(path string, q url.Values) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// sniff refuses a missing file and one that is not SQLite before SQLite
// sees it: opened for writing, an empty or foreign file would become a
// new database.
func sniff(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w: the file is missing", path, ErrNotWinnow)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 16)
	if _, err := io.ReadFull(f, head); err != nil || string(head) != "SQLite format 3\x00" {
		return fmt.Errorf("%s: %w: not an SQLite file", path, ErrNotWinnow)
	}
	return nil
}

// checkTables refuses an SQLite file without winnow's tables.
func (s *Store) checkTables(ctx context.Context) error {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('schema_migrations', 'items', 'answers')`).Scan(&n)
	if err != nil {
		return err
	}
	if n != 3 {
		return fmt.Errorf("%w: an SQLite file without winnow's tables", ErrNotWinnow)
	}
	return nil
}

func isCantOpen(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrCantOpen
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Path is the database file.
func (s *Store) Path() string { return s.path }

// DB exposes the handle for read-only checks (tests, integrity checks).
func (s *Store) DB() *sql.DB { return s.db }

// write runs fn in one serialised BEGIN IMMEDIATE transaction.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// IntegrityCheck runs PRAGMA integrity_check and returns its findings as
// an error ("ok" is nil).
func (s *Store) IntegrityCheck(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return err
		}
		if m != "ok" {
			msgs = append(msgs, m)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(msgs) > 0 {
		return fmt.Errorf("%s: integrity check failed: %v", s.path, msgs)
	}
	return nil
}

func nanos(t time.Time) int64 { return t.UTC().UnixNano() }

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func now() int64 { return time.Now().UTC().UnixNano() }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
