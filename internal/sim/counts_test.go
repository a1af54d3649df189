package sim

import (
	"context"
	"strings"
	"testing"
)

// A count of one reads as one: tinyWorld has one row without an oracle
// label, and one draw here.
func TestCountsOfOneAreSingular(t *testing.T) {
	cfg := tinyWorld(t)
	cfg.Repeats = 1
	var log strings.Builder
	cfg.Log = &log
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(res.Notes, "; ")
	if !strings.Contains(notes, "1 feature row has no oracle label: it can be queried but never trains") {
		t.Errorf("notes: %s", notes)
	}
	if !strings.Contains(log.String(), "2 classes; 1 draw\n") {
		t.Errorf("log: %s", log.String())
	}
}
