package labelstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/winnowml/winnow/internal/agreement"
)

// AllAnswers returns every answer ever given (practice, label, imported),
// oldest first, marked undone or superseded as RoundAnswers does: the
// assessment reads the whole history at once.
func (s *Store) AllAnswers(ctx context.Context) ([]AnswerRow, error) {
	return s.answerRows(ctx, ``)
}

// ImportedAnswer is one answer given outside the site (a spreadsheet,
// another tool), recorded as a participant's label with no round.
type ImportedAnswer struct {
	Item  ItemID
	Class string // "" with None
	None  bool   // "none of these"
}

// ImportAnswers records answers as the participant named name (the newest
// participant of that name, or a new one), under a new session of theirs,
// in one transaction: all or none. The answers belong to no round: they
// vote in every consensus from now on, like the answers of a closed round.
// It returns the participant's id.
func (s *Store) ImportAnswers(ctx context.Context, name string, answers []ImportedAnswer) (int64, error) {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameLen {
		return 0, fmt.Errorf("%w: a participant name must be non-empty valid text of at most %d characters", ErrInvalid, MaxNameLen)
	}
	token, err := randomToken()
	if err != nil {
		return 0, err
	}
	csrf, err := randomToken()
	if err != nil {
		return 0, err
	}
	var pid int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		t := now()
		err := tx.QueryRowContext(ctx, `SELECT id FROM participants WHERE name = ? ORDER BY id DESC LIMIT 1`, name).Scan(&pid)
		if errors.Is(err, sql.ErrNoRows) {
			res, err := tx.ExecContext(ctx, `INSERT INTO participants(name, created) VALUES (?, ?)`, name, t)
			if err != nil {
				return err
			}
			pid, err = res.LastInsertId()
			if err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		// The session's token is never handed out: nobody can log in as
		// an import.
		res, err := tx.ExecContext(ctx, `INSERT INTO sessions(token_hash, participant_id, csrf, created) VALUES (?, ?, ?, ?)`,
			hashToken(token), pid, csrf, t)
		if err != nil {
			return err
		}
		sid, err := res.LastInsertId()
		if err != nil {
			return err
		}
		for _, a := range answers {
			if a.None != (a.Class == "") {
				return fmt.Errorf("%w: an answer is a class or none of these (item %d)", ErrInvalid, a.Item)
			}
			var known int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM classes WHERE name = ?`, a.Class).Scan(&known); err != nil {
				return err
			}
			if known == 0 && !a.None {
				return fmt.Errorf("%w: unknown class %q", ErrInvalid, a.Class)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO answers(session_id, item_id, round_id, kind, class, bad, none, skip, at)
				VALUES (?, ?, NULL, 'label', ?, 0, ?, 0, ?)`, sid, a.Item, a.Class, a.None, t); err != nil {
				return fmt.Errorf("item %d: %w", a.Item, err)
			}
		}
		return nil
	})
	return pid, err
}

// SetHiddenGold sets the share of each session's queue that is hidden
// gold: practice items the session has not met in practice, mixed
// unannounced among the round's picks (0 turns it off). The project calls
// it at every Open from winnow.toml.
func (s *Store) SetHiddenGold(share float64) {
	if math.IsNaN(share) || share < 0 {
		share = 0
	}
	s.hiddenGold.Store(math.Float64bits(min(share, 0.5)))
}

// HiddenGold returns the share set by SetHiddenGold.
func (s *Store) HiddenGold() float64 { return math.Float64frombits(s.hiddenGold.Load()) }

// HiddenReserved tells whether a gold practice item is reserved for hidden
// gold (half of them, by a hash of the path) while hidden gold is on: the
// practice pages leave those out, so a participant meets them first
// unannounced in the queue, where a remembered answer cannot help. They
// still train, as every gold practice item does.
func HiddenReserved(path string) bool {
	h := sha256.Sum256([]byte("winnow hidden gold\x00" + path))
	return h[0]&1 == 0
}

// hiddenFor returns the hidden gold items of a session's queue in a round
// with n picks, and where each goes in the queue (an index into the
// queue with them in place). The choice is a hash of (session, round,
// item), so every call gives the same answer; the candidates are the gold
// practice items reserved for hidden gold that the session has answered
// neither in practice nor in another round.
func (s *Store) hiddenFor(ctx context.Context, q querier, sessionID, roundID int64, n int) ([]Item, []int, error) {
	share := s.HiddenGold()
	if share <= 0 || n == 0 {
		return nil, nil, nil
	}
	// share of the queue with the gold in it: h / (n + h) ~ share.
	h := int(math.Round(share * float64(n) / (1 - share)))
	if h == 0 {
		h = 1
	}
	all, err := queryItemsQ(ctx, q, `SELECT i.id, i.path, i.sha256, i.gold, i.role, i.label FROM items i
		WHERE i.role = 'practice' AND i.gold != '' AND i.id NOT IN
		(SELECT item_id FROM answers WHERE session_id = ? AND (kind = 'practice' OR round_id != ?))`, sessionID, roundID)
	if err != nil {
		return nil, nil, err
	}
	var cands []Item
	for _, it := range all {
		if HiddenReserved(it.Path) {
			cands = append(cands, it)
		}
	}
	key := func(id ItemID, salt uint64) uint64 {
		var b [32]byte
		binary.LittleEndian.PutUint64(b[0:], uint64(sessionID))
		binary.LittleEndian.PutUint64(b[8:], uint64(roundID))
		binary.LittleEndian.PutUint64(b[16:], uint64(id))
		binary.LittleEndian.PutUint64(b[24:], salt)
		sum := sha256.Sum256(b[:])
		return binary.LittleEndian.Uint64(sum[:8])
	}
	sort.Slice(cands, func(i, j int) bool { return key(cands[i].ID, 0) < key(cands[j].ID, 0) })
	cands = cands[:min(h, len(cands))]
	at := make([]int, len(cands))
	for j, it := range cands {
		// Anywhere but first: the first image a participant sees in a
		// round would be an easy one to remember as "the test".
		at[j] = 1 + int(key(it.ID, 1)%uint64(n))
	}
	return cands, at, nil
}

// NoneOption is the consensus option "none of these", after the classes.
const NoneOption = "none"

// DSEstimate is the Dawid-Skene consensus over participants' votes.
type DSEstimate struct {
	// Options are the classes in order, then NoneOption: "none of these"
	// is an answer like a class, so a labeller who says it wrongly is
	// modelled too.
	Options      []string
	Items        []ItemID       // dense item index -> item
	Index        map[ItemID]int // item -> dense index
	Participants []int64        // dense labeller index -> participant
	PIndex       map[int64]int  // participant -> dense index
	Result       agreement.DSResult
	Gold         map[int]int // dense item -> option, the clamped items
	Practice     int         // practice answers among the answers (EstimateDSPractice)
}

// EstimateDS runs Dawid-Skene over the votes that are a class or "none of
// these" (skips are no vote; classes not among classes are left out),
// with gold items clamped to their class. Only items with a vote take
// part: a gold item nobody answered teaches no confusion matrix.
func EstimateDS(items []Item, votes []Vote, classes []string) DSEstimate {
	return EstimateDSPractice(items, votes, nil, classes, false)
}

// EstimateDSPractice is EstimateDS with practice answers too: each is an
// answer to an item of known class, so it is a clamped item that teaches
// its participant's confusion matrix like gold met while labelling. A
// practice answer on an item the participant also gave a class or "none"
// in a round is left out (one answer per participant and item; the vote
// counts), as are practice answers on items without gold. goldOnly learns the
// matrices from the clamped items alone (agreement.DSOptions.GoldOnly).
func EstimateDSPractice(items []Item, votes, practice []Vote, classes []string, goldOnly bool) DSEstimate {
	e := DSEstimate{Options: append(append([]string{}, classes...), NoneOption), Index: map[ItemID]int{}, PIndex: map[int64]int{}, Gold: map[int]int{}}
	opt := map[string]int{}
	for i, c := range classes {
		opt[c] = i
	}
	byID := map[ItemID]Item{}
	for _, it := range items {
		byID[it.ID] = it
	}
	type pk struct {
		p    int64
		item ItemID
	}
	voted := map[pk]bool{}
	var answers []agreement.Answer
	add := func(v Vote, isPractice bool) {
		o := -1
		switch {
		case v.Skip:
		case v.None:
			o = len(classes)
		default:
			if k, ok := opt[v.Class]; ok {
				o = k
			}
		}
		if o < 0 {
			return
		}
		g, gold := opt[byID[v.ItemID].Gold]
		if isPractice && (!gold || voted[pk{v.ParticipantID, v.ItemID}]) {
			return
		}
		i, ok := e.Index[v.ItemID]
		if !ok {
			i = len(e.Items)
			e.Index[v.ItemID] = i
			e.Items = append(e.Items, v.ItemID)
			if gold {
				e.Gold[i] = g
			}
		}
		l, ok := e.PIndex[v.ParticipantID]
		if !ok {
			l = len(e.Participants)
			e.PIndex[v.ParticipantID] = l
			e.Participants = append(e.Participants, v.ParticipantID)
		}
		if isPractice {
			e.Practice++
		} else {
			voted[pk{v.ParticipantID, v.ItemID}] = true
		}
		answers = append(answers, agreement.Answer{Item: i, Labeller: l, Class: o})
	}
	for _, v := range votes {
		add(v, false)
	}
	for _, v := range practice {
		add(v, true)
	}
	e.Result = agreement.DawidSkene(answers, len(e.Items), len(e.Participants), len(e.Options), agreement.DSOptions{Gold: e.Gold, GoldOnly: goldOnly})
	return e
}

// DSMinParticipants is how many participants must have answered in an
// item's round before Dawid-Skene decides the item rather than majority
// vote: with fewer, each labeller's confusion matrix rests on too few
// overlapping answers to be estimated.
const DSMinParticipants = 3

// ConsensusDS is Consensus with Dawid-Skene deciding the items answered in
// a round (imported answers, which have none, count as one round of their
// own) where at least minParticipants participants gave a vote. Gold and
// imported labels still win; "none of these" winning and the "bad example"
// rule are decided as in Consensus, on the Dawid-Skene winner; such items
// get Source "dawid-skene". It also returns the estimate.
func ConsensusDS(items []Item, votes []Vote, classes []string, trainFlagged bool, minParticipants int) ([]Decision, DSEstimate) {
	ds := Consensus(items, votes, trainFlagged)
	est := EstimateDS(items, votes, classes)
	perRound := map[int64]map[int64]bool{}
	itemRounds := map[ItemID][]int64{}
	for _, v := range votes {
		if v.Skip {
			continue
		}
		if perRound[v.RoundID] == nil {
			perRound[v.RoundID] = map[int64]bool{}
		}
		perRound[v.RoundID][v.ParticipantID] = true
		itemRounds[v.ItemID] = append(itemRounds[v.ItemID], v.RoundID)
	}
	for i := range ds {
		d := &ds[i]
		if d.Item.Gold != "" || d.Item.Label != "" {
			continue
		}
		idx, ok := est.Index[d.Item.ID]
		if !ok {
			continue
		}
		most := 0
		for _, r := range itemRounds[d.Item.ID] {
			most = max(most, len(perRound[r]))
		}
		if most < minParticipants {
			continue
		}
		win := est.Result.Labels[idx]
		if win < 0 {
			continue
		}
		o := est.Options[win]
		d.Tied, d.Label, d.Source = nil, "", ""
		switch {
		case o == NoneOption:
			d.Status = NoneOfThem
		case !trainFlagged && d.Votes[o] > 0 && 2*d.Bad[o] >= d.Votes[o]:
			d.Status = Flagged
		default:
			d.Label, d.Source, d.Status = o, "dawid-skene", Labelled
		}
	}
	return ds, est
}
