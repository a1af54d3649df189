package labelstore

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

var bg = context.Background()

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "winnow.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// setup fills a store with n pool items, the classes, and an open round
// picking all pool items in id order.
func setup(t *testing.T, s *Store, n int, classes ...string) *Round {
	t.Helper()
	var items []Item
	for i := range n {
		items = append(items, Item{Path: fmt.Sprintf("img/%03d.png", i), SHA256: fmt.Sprintf("%064x", i)})
	}
	if _, err := s.AddItems(bg, items); err != nil {
		t.Fatal(err)
	}
	if len(classes) > 0 {
		if err := s.SetClasses(bg, classes); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.Items(bg)
	if err != nil {
		t.Fatal(err)
	}
	var picks []ItemID
	for _, it := range all {
		picks = append(picks, it.ID)
	}
	r, err := s.OpenRound(bg, picks)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustSession(t *testing.T, s *Store, name string) *Session {
	t.Helper()
	sess, err := s.NewSession(bg, name)
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

func label(sess *Session, r *Round, item ItemID, class string) Answer {
	return Answer{SessionID: sess.ID, ItemID: item, RoundID: r.ID, Kind: KindLabel, Class: class}
}

func mustRecord(t *testing.T, s *Store, a Answer) int64 {
	t.Helper()
	id, err := s.Record(bg, a)
	if err != nil {
		t.Fatalf("Record(%+v): %v", a, err)
	}
	return id
}

func TestMigrationsFreshReopenAndNewerRefused(t *testing.T) {
	s, path := openTemp(t)
	v, err := s.Version(bg)
	if err != nil {
		t.Fatal(err)
	}
	if v != SchemaVersion() || v < 1 {
		t.Fatalf("fresh database at version %d, want %d", v, SchemaVersion())
	}
	setup(t, s, 3, "a", "b")
	s.Close()

	// Reopening runs no migration twice and keeps the data.
	s2, err := Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	var applied int
	if err := s2.DB().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != SchemaVersion() {
		t.Fatalf("%d migrations recorded after reopening, want %d", applied, SchemaVersion())
	}
	if items, _ := s2.Items(bg); len(items) != 3 {
		t.Fatalf("reopened database has %d items, want 3", len(items))
	}
	// A newer winnow migrated this database further.
	if _, err := s2.DB().Exec(`INSERT INTO schema_migrations(version, applied) VALUES (?, 0)`, SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	_, err = Open(path)
	if err == nil || !strings.Contains(err.Error(), "newer") || !strings.Contains(err.Error(), path) {
		t.Fatalf("opening a database of a newer schema: %v, want a refusal naming the file and saying newer", err)
	}
}

func TestMigrationFailureLeavesNoHalfSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "winnow.db")
	saved := migrations
	defer func() { migrations = saved }()
	migrations = append(slices.Clone(saved), `CREATE TABLE extra(x INTEGER); THIS IS NOT SQL;`)
	if _, err := Open(path); err == nil {
		t.Fatal("a failing migration was not reported")
	}
	migrations = saved
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	s.DB().QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name IN ('items', 'extra')`).Scan(&n)
	if n != 1 {
		t.Fatalf("after a failed migration and a reopen: %d of items/extra exist, want items only (the failed transaction rolled back)", n)
	}
}

func TestRecordValidatesAndRefusesClosedRound(t *testing.T) {
	s, _ := openTemp(t)
	r := setup(t, s, 4, "sound", "dry")
	sess := mustSession(t, s, "ann")
	bad := []Answer{
		{SessionID: sess.ID, ItemID: r.Picks[0], RoundID: r.ID, Kind: KindLabel},                             // nothing chosen
		{SessionID: sess.ID, ItemID: r.Picks[0], RoundID: r.ID, Kind: KindLabel, Class: "sound", Skip: true}, // two things
		{SessionID: sess.ID, ItemID: r.Picks[0], RoundID: r.ID, Kind: KindLabel, None: true, Bad: true},      // bad without class
		{SessionID: sess.ID, ItemID: r.Picks[0], RoundID: r.ID, Kind: KindLabel, Class: "encased"},           // unknown class
		{SessionID: sess.ID, ItemID: r.Picks[0], RoundID: 0, Kind: KindLabel, Class: "sound"},                // no round
		{SessionID: sess.ID, ItemID: r.Picks[0], RoundID: r.ID, Kind: "vote", Class: "sound"},                // kind
		{SessionID: sess.ID, ItemID: r.Picks[0], Kind: KindPractice, Class: "sound"},                         // not a practice item
		{SessionID: sess.ID + 99, ItemID: r.Picks[0], RoundID: r.ID, Kind: KindLabel, Class: "sound"},        // no such session
		{SessionID: sess.ID, ItemID: 9999, RoundID: r.ID, Kind: KindLabel, Class: "sound"},                   // not picked
	}
	for i, a := range bad {
		if _, err := s.Record(bg, a); err == nil {
			t.Errorf("bad answer %d (%+v) was accepted", i, a)
		}
	}
	mustRecord(t, s, label(sess, r, r.Picks[0], "sound"))
	if err := s.BeginClose(bg, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record(bg, label(sess, r, r.Picks[1], "dry")); !errors.Is(err, ErrRoundClosed) {
		t.Fatalf("answer to a closing round: %v, want ErrRoundClosed", err)
	}
	if _, err := s.Undo(bg, sess.ID, r.ID); !errors.Is(err, ErrRoundClosed) {
		t.Fatalf("undo in a closing round: %v, want ErrRoundClosed", err)
	}
	rows, err := s.RoundAnswers(bg, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("%d answers stored, want the 1 given while open", len(rows))
	}
	if _, err := s.FinishClose(bg, r.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record(bg, label(sess, r, r.Picks[1], "dry")); !errors.Is(err, ErrRoundClosed) {
		t.Fatalf("answer to a closed round: %v, want ErrRoundClosed", err)
	}
	if _, err := s.CurrentRound(bg); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CurrentRound after the last round closed: %v, want ErrNotFound", err)
	}
}

func TestUndoKeepsHistoryAndRestoresThePreviousAnswer(t *testing.T) {
	s, _ := openTemp(t)
	r := setup(t, s, 3, "a", "b")
	ann := mustSession(t, s, "ann")
	item := r.Picks[1]
	mustRecord(t, s, label(ann, r, item, "a"))
	mustRecord(t, s, label(ann, r, item, "b")) // changed her mind: the latest counts
	q, err := s.Queue(bg, ann.ID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	latest := func(q []QueueEntry) string {
		for _, e := range q {
			if e.Item.ID == item {
				if e.Latest == nil {
					return ""
				}
				return e.Latest.Class
			}
		}
		t.Fatal("item missing from the queue")
		return ""
	}
	if got := latest(q); got != "b" {
		t.Fatalf("latest answer %q, want b", got)
	}
	undone, err := s.Undo(bg, ann.ID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if undone.Class != "b" {
		t.Fatalf("undo returned %+v, want the answer b", undone)
	}
	q, _ = s.Queue(bg, ann.ID, r.ID)
	if got := latest(q); got != "a" {
		t.Fatalf("after undo the answer in effect is %q, want the earlier a", got)
	}
	if _, err := s.Undo(bg, ann.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	q, _ = s.Queue(bg, ann.ID, r.ID)
	if got := latest(q); got != "" {
		t.Fatalf("after two undos the item still has answer %q", got)
	}
	if _, err := s.Undo(bg, ann.ID, r.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("undo with nothing left: %v, want ErrNotFound", err)
	}
	rows, _ := s.RoundAnswers(bg, r.ID)
	if len(rows) != 2 || !rows[0].Undone || !rows[1].Undone {
		t.Fatalf("history after undos: %+v, want both answers kept and marked undone", rows)
	}
}

func TestRotationsCoverTheBatch(t *testing.T) {
	const n, people = 12, 3
	s, _ := openTemp(t)
	r := setup(t, s, n, "a", "b")
	// Participants arrive together: concurrent first calls must not share
	// a start.
	sessions := make([]*Session, people)
	queues := make([][]QueueEntry, people)
	var wg sync.WaitGroup
	for i := range people {
		sessions[i] = mustSession(t, s, fmt.Sprintf("p%d", i))
	}
	errs := make(chan error, people)
	for i := range people {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q, err := s.Queue(bg, sessions[i].ID, r.ID)
			queues[i] = q
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	starts := map[ItemID]bool{}
	for i, q := range queues {
		if len(q) != n {
			t.Fatalf("queue %d has %d items, want %d", i, len(q), n)
		}
		// A rotation of the picks: each next item is the next pick.
		first := slices.Index(r.Picks, q[0].Item.ID)
		for k, e := range q {
			if e.Item.ID != r.Picks[(first+k)%n] {
				t.Fatalf("queue %d is not a rotation of the picks", i)
			}
		}
		if starts[q[0].Item.ID] {
			t.Fatalf("two sessions start at item %d", q[0].Item.ID)
		}
		starts[q[0].Item.ID] = true
	}
	// The order is stored: asking again gives the same queue.
	again, _ := s.Queue(bg, sessions[0].ID, r.ID)
	if again[0].Item.ID != queues[0][0].Item.ID {
		t.Fatal("a session's rotation changed between calls")
	}
	// Everyone labels their whole queue: every pick is covered 3 times.
	for i, q := range queues {
		for _, e := range q {
			mustRecord(t, s, label(sessions[i], r, e.Item.ID, "a"))
		}
	}
	cover, err := coverage(bg, s.db, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range r.Picks {
		if cover[id] != people {
			t.Fatalf("item %d covered %d times, want %d", id, cover[id], people)
		}
	}
}

func TestLateSessionStartsAtTheLeastCoveredItem(t *testing.T) {
	const n = 10
	s, _ := openTemp(t)
	r := setup(t, s, n, "a", "b")
	early := mustSession(t, s, "early")
	q, err := s.Queue(bg, early.ID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The early participant labels the first 6 of her queue, then leaves.
	covered := map[ItemID]bool{}
	for _, e := range q[:6] {
		mustRecord(t, s, label(early, r, e.Item.ID, "a"))
		covered[e.Item.ID] = true
	}
	// A skip does not cover an item.
	mustRecord(t, s, Answer{SessionID: early.ID, ItemID: q[6].Item.ID, RoundID: r.ID, Kind: KindLabel, Skip: true})
	late := mustSession(t, s, "late")
	lq, err := s.Queue(bg, late.ID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if covered[lq[0].Item.ID] {
		t.Fatalf("the late session starts at item %d, already labelled, while %d items have no label", lq[0].Item.ID, n-6)
	}
	// Labelling the uncovered ones first: the 4 first items of the late
	// queue are exactly the 4 without a label.
	for _, e := range lq[:n-6] {
		if covered[e.Item.ID] {
			t.Fatalf("late queue %v visits a labelled item before the unlabelled ones", lq)
		}
	}
	// A third session arriving now, with every item but one labelled once
	// and that one labelled by nobody, starts there.
	for _, e := range lq[:n-7] {
		mustRecord(t, s, label(late, r, e.Item.ID, "b"))
	}
	third := mustSession(t, s, "third")
	tq, _ := s.Queue(bg, third.ID, r.ID)
	if want := lq[n-7].Item.ID; tq[0].Item.ID != want {
		t.Fatalf("third session starts at %d, want the only unlabelled item %d", tq[0].Item.ID, want)
	}
}

func TestPickStartSpreadsSessions(t *testing.T) {
	zero := func(int) int { return 0 }
	if got := pickStart(8, zero, nil); got != 0 {
		t.Fatalf("first start %d, want 0", got)
	}
	if got := pickStart(8, zero, []int{0}); got != 4 {
		t.Fatalf("second start %d, want 4 (opposite the first)", got)
	}
	if got := pickStart(8, zero, []int{0, 4}); got != 2 {
		t.Fatalf("third start %d, want 2", got)
	}
	cover := func(r int) int { return map[int]int{0: 2, 1: 2, 2: 1, 3: 2}[r] }
	if got := pickStart(4, cover, []int{2}); got != 2 {
		t.Fatalf("start %d, want the least covered rank 2 even though a session started there", got)
	}
}

func TestHostileStringsAreStoredVerbatim(t *testing.T) {
	s, _ := openTemp(t)
	hostile := []string{
		`Robert'); DROP TABLE answers;--`,
		`x' OR '1'='1`,
		`"; DELETE FROM items; --`,
		`<script>alert(1)</script>`,
		"tab\tnew\nline",
	}
	r := setup(t, s, len(hostile), hostile...)
	for i, h := range hostile {
		sess := mustSession(t, s, h)
		got, err := s.SessionByToken(bg, sess.Token)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != strings.TrimSpace(h) {
			t.Fatalf("name stored as %q, want %q", got.Name, h)
		}
		mustRecord(t, s, label(sess, r, r.Picks[i], h))
	}
	if _, err := s.SessionByToken(bg, `' OR '1'='1`); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a hostile token found a session: %v", err)
	}
	classes, err := s.Classes(bg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(classes, hostile) {
		t.Fatalf("classes read back as %q", classes)
	}
	if n, _ := s.Count(bg); n.Items != len(hostile) || n.LabelAnswers != len(hostile) {
		t.Fatalf("after hostile input: %+v", n)
	}
	var buf bytes.Buffer
	if err := s.ExportAnswers(bg, &buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(hostile)+1 {
		t.Fatalf("export has %d rows, want %d", len(recs), len(hostile)+1)
	}
	for i, h := range hostile {
		if recs[i+1][4] != h {
			t.Fatalf("export row %d answer %q, want %q", i, recs[i+1][4], h)
		}
	}
	if err := s.IntegrityCheck(bg); err != nil {
		t.Fatal(err)
	}
}

func TestExamplesAndPractice(t *testing.T) {
	s, _ := openTemp(t)
	r := setup(t, s, 5, "a", "b")
	if err := s.SetGold(bg, r.Picks[3], "a", RolePractice); err != nil {
		t.Fatal(err)
	}
	if err := s.SetGold(bg, r.Picks[4], "b", RoleTest); err != nil {
		t.Fatal(err)
	}
	if err := s.SetGold(bg, r.Picks[4], "b", "sideways"); err == nil {
		t.Fatal("a gold label with an unknown role was accepted")
	}
	pr, _ := s.PracticeItems(bg)
	if len(pr) != 1 || pr[0].ID != r.Picks[3] || pr[0].Gold != "a" {
		t.Fatalf("practice items %+v", pr)
	}
	sess := mustSession(t, s, "")
	mustRecord(t, s, Answer{SessionID: sess.ID, ItemID: r.Picks[3], Kind: KindPractice, Class: "b"})
	mustRecord(t, s, Answer{SessionID: sess.ID, ItemID: r.Picks[3], Kind: KindPractice, Class: "a"})
	lp, err := s.LatestPractice(bg, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if lp[r.Picks[3]].Class != "a" {
		t.Fatalf("latest practice answer %+v, want a", lp[r.Picks[3]])
	}
	if err := s.SetExamples(bg, "b", []ItemID{r.Picks[2], r.Picks[0]}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetExamples(bg, "a", []ItemID{r.Picks[1]}); err != nil {
		t.Fatal(err)
	}
	all, _ := s.ExamplesByClass(bg)
	if ex := all["b"]; len(ex) != 2 || ex[0].ID != r.Picks[2] || ex[1].ID != r.Picks[0] {
		t.Fatalf("examples %+v, want items %d, %d in that order", ex, r.Picks[2], r.Picks[0])
	}
	if ex := all["a"]; len(ex) != 1 || ex[0].ID != r.Picks[1] || ex[0].Path == "" {
		t.Fatalf("examples of a: %+v, want item %d", ex, r.Picks[1])
	}
	if err := s.SetExamples(bg, "b", []ItemID{12345}); err == nil {
		t.Fatal("an example naming no item was accepted")
	}
	if all, _ := s.ExamplesByClass(bg); len(all["b"]) != 2 {
		t.Fatalf("a failed SetExamples changed the examples: %+v", all["b"])
	}
}

func TestTokensAreNotStored(t *testing.T) {
	s, path := openTemp(t)
	sess := mustSession(t, s, "ann")
	if len(sess.Token) < 40 || sess.CSRF == "" || sess.CSRF == sess.Token {
		t.Fatalf("session %+v: want a long random token and a distinct CSRF secret", sess)
	}
	other := mustSession(t, s, "ann")
	if other.Token == sess.Token || other.ParticipantID == sess.ParticipantID {
		t.Fatal("two sessions share a token or a participant")
	}
	got, err := s.SessionByToken(bg, sess.Token)
	if err != nil || got.ID != sess.ID || got.Token != sess.Token || got.CSRF != sess.CSRF {
		t.Fatalf("SessionByToken: %+v, %v", got, err)
	}
	if byID, _ := s.SessionByID(bg, sess.ID); byID.Token != "" {
		t.Fatal("SessionByID returned a token the database should not have")
	}
	s.Close()
	for _, f := range []string{path, path + "-wal"} {
		data, _ := os.ReadFile(f)
		if bytes.Contains(data, []byte(sess.Token)) {
			t.Fatalf("%s holds a session token in the clear", f)
		}
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("database mode %v, want 0600", st.Mode().Perm())
	}
}
