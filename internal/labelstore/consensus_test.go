package labelstore

import (
	"slices"
	"testing"
)

func TestConsensusRules(t *testing.T) {
	items := []Item{
		{ID: 1, Path: "majority"},
		{ID: 2, Path: "gold", Gold: "dry", Role: RolePractice},
		{ID: 3, Path: "tie"},
		{ID: 4, Path: "none"},
		{ID: 5, Path: "flagged"},
		{ID: 6, Path: "skips"},
		{ID: 7, Path: "nobody"},
		{ID: 8, Path: "imported", Label: "encased"},
		{ID: 9, Path: "none-ties-class"},
		{ID: 10, Path: "half-flagged"},
	}
	v := func(p int64, item ItemID, class string, mods ...string) Vote {
		a := Answer{ItemID: item, Class: class}
		for _, m := range mods {
			switch m {
			case "bad":
				a.Bad = true
			case "none":
				a.None, a.Class = true, ""
			case "skip":
				a.Skip, a.Class = true, ""
			}
		}
		return Vote{Answer: a, ParticipantID: p}
	}
	votes := []Vote{
		v(1, 1, "sound"), v(2, 1, "sound"), v(3, 1, "dry"),
		v(1, 2, "sound"), v(2, 2, "sound"), v(3, 2, "sound"), // gold says dry
		v(1, 3, "sound"), v(2, 3, "dry"), v(3, 3, "", "skip"),
		v(1, 4, "", "none"), v(2, 4, "", "none"), v(3, 4, "dry"),
		v(1, 5, "dry", "bad"), v(2, 5, "dry", "bad"), v(3, 5, "sound"),
		v(1, 6, "", "skip"), v(2, 6, "", "skip"),
		v(1, 8, "sound"),
		v(1, 9, "", "none"), v(2, 9, "dry"),
		v(1, 10, "dry", "bad"), v(2, 10, "dry"), v(3, 10, "sound"),
	}
	check := func(trainFlagged bool, want map[string][2]string) {
		t.Helper()
		ds := Consensus(items, votes, trainFlagged)
		if len(ds) != len(items) {
			t.Fatalf("%d decisions for %d items", len(ds), len(items))
		}
		for _, d := range ds {
			w := want[d.Item.Path]
			if d.Status != w[0] || d.Label != w[1] {
				t.Errorf("trainFlagged=%v %s: status %q label %q, want %q %q (votes %v none %d bad %v)",
					trainFlagged, d.Item.Path, d.Status, d.Label, w[0], w[1], d.Votes, d.None, d.Bad)
			}
			if d.Item.Path == "tie" && !slices.Equal(d.Tied, []string{"dry", "sound"}) {
				t.Errorf("tie lists %q, want dry and sound", d.Tied)
			}
			if d.Item.Path == "none-ties-class" && !slices.Equal(d.Tied, []string{"dry", "none"}) {
				t.Errorf("none/dry tie lists %q", d.Tied)
			}
			if d.Item.Path == "skips" && d.Skips != 2 {
				t.Errorf("skips counted %d, want 2", d.Skips)
			}
		}
	}
	base := map[string][2]string{
		"majority":        {Labelled, "sound"},
		"gold":            {Labelled, "dry"},
		"tie":             {Tie, ""},
		"none":            {NoneOfThem, ""},
		"flagged":         {Flagged, ""},
		"skips":           {Unanswered, ""},
		"nobody":          {Unanswered, ""},
		"imported":        {Labelled, "encased"},
		"none-ties-class": {Tie, ""},
		"half-flagged":    {Flagged, ""},
	}
	check(false, base)
	// When flagged answers train, they count like any other.
	base["flagged"] = [2]string{Labelled, "dry"}
	base["half-flagged"] = [2]string{Labelled, "dry"}
	check(true, base)
}

func TestVotesUseEachParticipantsLatestAnswer(t *testing.T) {
	s, _ := openTemp(t)
	r := setup(t, s, 2, "a", "b")
	ann, bob, cat := mustSession(t, s, "ann"), mustSession(t, s, "bob"), mustSession(t, s, "cat")
	item := r.Picks[0]
	mustRecord(t, s, label(ann, r, item, "a"))
	mustRecord(t, s, label(bob, r, item, "a"))
	mustRecord(t, s, label(cat, r, item, "b"))
	// ann changes her mind: b now has the majority.
	mustRecord(t, s, label(ann, r, item, "b"))
	// bob answers b, then undoes it: his a counts again.
	mustRecord(t, s, label(bob, r, item, "b"))
	if _, err := s.Undo(bg, bob.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	// Votes only sees rounds that are no longer open.
	if vs, _ := s.Votes(bg); len(vs) != 0 {
		t.Fatalf("votes of an open round were counted: %+v", vs)
	}
	if err := s.BeginClose(bg, r.ID); err != nil {
		t.Fatal(err)
	}
	vs, err := s.Votes(bg)
	if err != nil {
		t.Fatal(err)
	}
	items, _ := s.Items(bg)
	ds := Consensus(items, vs, false)
	d := ds[slices.IndexFunc(ds, func(d Decision) bool { return d.Item.ID == item })]
	if d.Status != Labelled || d.Label != "b" || d.Votes["b"] != 2 || d.Votes["a"] != 1 {
		t.Fatalf("decision %+v, want b by 2 votes to 1", d)
	}
}
