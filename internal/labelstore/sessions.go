package labelstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxNameLen bounds display names (in characters).
const MaxNameLen = 100

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// NewSession creates a participant with the given display name ("" for
// anonymous) and a session for them, with a random token and CSRF secret.
func (s *Store) NewSession(ctx context.Context, name string) (*Session, error) {
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameLen {
		return nil, fmt.Errorf("%w: a name must be valid text of at most %d characters", ErrInvalid, MaxNameLen)
	}
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	csrf, err := randomToken()
	if err != nil {
		return nil, err
	}
	t := now()
	sess := &Session{Token: token, Name: name, CSRF: csrf, Created: fromNanos(t)}
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO participants(name, created) VALUES (?, ?)`, name, t)
		if err != nil {
			return err
		}
		if sess.ParticipantID, err = res.LastInsertId(); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO sessions(token_hash, participant_id, csrf, created) VALUES (?, ?, ?, ?)`,
			hashToken(token), sess.ParticipantID, csrf, t)
		if err != nil {
			return err
		}
		sess.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return nil, err
	}
	return sess, nil
}

const sessionCols = `s.id, s.participant_id, p.name, s.csrf, s.created`

// hashToken is what the database keeps of a session token.
func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func scanSession(r scanner) (*Session, error) {
	var sess Session
	var created int64
	err := r.Scan(&sess.ID, &sess.ParticipantID, &sess.Name, &sess.CSRF, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	sess.Created = fromNanos(created)
	return &sess, nil
}

// SessionByToken returns the session whose cookie value is token, or
// ErrNotFound. The database keeps only a hash of each token; the lookup is
// by that hash, so its timing says nothing about the token.
func (s *Store) SessionByToken(ctx context.Context, token string) (*Session, error) {
	if token == "" {
		return nil, ErrNotFound
	}
	sess, err := scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionCols+`
		FROM sessions s JOIN participants p ON p.id = s.participant_id WHERE s.token_hash = ?`, hashToken(token)))
	if err != nil {
		return nil, err
	}
	sess.Token = token
	return sess, nil
}

// SessionByID returns a session by id, or ErrNotFound. Its Token is empty:
// the database does not keep tokens, only their hashes.
func (s *Store) SessionByID(ctx context.Context, id int64) (*Session, error) {
	return scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionCols+`
		FROM sessions s JOIN participants p ON p.id = s.participant_id WHERE s.id = ?`, id))
}
