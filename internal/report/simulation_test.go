package report

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/sim"
)

// simWorld runs a small simulation: two classes on a line, fixed test and
// initial sets, the test set of class a only when oneClassTest (so macro
// AUC is undefined).
func simWorld(t *testing.T, oneClassTest bool) *sim.Result {
	t.Helper()
	dir := t.TempDir()
	var f, l, test strings.Builder
	f.WriteString("path,x\n")
	l.WriteString("path,label\n")
	test.WriteString("path\n")
	for i := 0; i < 40; i++ {
		c, x := "a", -1-float64(i%7)/3
		if i%2 == 1 {
			c, x = "b", 1+float64(i%5)/3
		}
		if i%5 == 0 {
			x = -x / 4 // some overlap, so strategies differ
		}
		p := fmt.Sprintf("r%02d", i)
		fmt.Fprintf(&f, "%s,%g\n", p, x)
		fmt.Fprintf(&l, "%s,%s\n", p, c)
		if i >= 30 && (!oneClassTest || c == "a") {
			fmt.Fprintf(&test, "%s\n", p)
		}
	}
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := sim.Config{Features: []string{write("f.csv", f.String())}, Labels: write("l.csv", l.String()),
		Test: write("test.csv", test.String()), Initial: write("init.csv", "path\nr00\nr01\n"), Batch: 3, Rounds: 3,
		Strategies: []string{"margin", "random"}, Repeats: 4, Seed: 2, Params: linear.Params{L1: 0.01, L2: 0.01}}
	res, err := sim.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSimulationReportPairedSections(t *testing.T) {
	res := simWorld(t, true)
	var buf bytes.Buffer
	if err := SimulationHTML(&buf, "t", res, nil); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{"Better than random? (paired by draw)", "labels asked (initial set + queried, NA included)",
		template.HTMLEscapeString(res.PairedTest), "margin depend on the seed only through the order of exactly equal scores"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// margin's row: draws, then four (difference, p) pairs; the macro AUC
	// pair (third) must say undefined, the accuracy p must not.
	row := regexp.MustCompile(`<tr><td>margin</td><td>(\d+)</td>((?:<td>[^<]*</td>){8})</tr>`).FindStringSubmatch(page)
	if row == nil {
		t.Fatal("no paired row for margin")
	}
	cells := regexp.MustCompile(`<td>([^<]*)</td>`).FindAllStringSubmatch(row[2], -1)
	if row[1] != "4" || cells[1][1] == "undefined" || cells[5][1] != "undefined" {
		t.Errorf("margin's paired row: draws %s, cells %v; want 4 draws, an accuracy p, macro AUC p undefined", row[1], cells)
	}
	// The round table's second column is labels asked: initial 2 + 3 per round.
	for r, want := range []string{"2", "5", "8", "11"} {
		if !strings.Contains(page, fmt.Sprintf("<tr><td>%d</td><td>%s</td>", r, want)) {
			t.Errorf("round %d: no row with %s labels asked", r, want)
		}
	}
}
