package plural

import "testing"

func TestN(t *testing.T) {
	for _, c := range []struct {
		n          int
		noun, want string
	}{
		{1, "row", "1 row"}, {0, "row", "0 rows"}, {2, "row", "2 rows"}, {-1, "row", "-1 row"},
		{1, "class", "1 class"}, {3, "class", "3 classes"}, {2, "box", "2 boxes"}, {2, "batch", "2 batches"},
		{2, "entry", "2 entries"}, {2, "day", "2 days"}, {5, "labelled image", "5 labelled images"},
		{1, "gold test item", "1 gold test item"}, {4, "gold test item", "4 gold test items"},
		{20, "draw", "20 draws"}, {2, "byte", "2 bytes"}, {2, "iteration", "2 iterations"},
	} {
		if got := N(c.n, c.noun); got != c.want {
			t.Errorf("N(%d, %q) = %q, want %q", c.n, c.noun, got, c.want)
		}
	}
}

func TestIsAre(t *testing.T) {
	if IsAre(1) != "is" || IsAre(0) != "are" || IsAre(2) != "are" {
		t.Error("IsAre")
	}
}
