package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// train --cv reports each grid point as the path passes it, prints the
// table with the chosen pair marked, and stores the same table (log loss and
// accuracy, mean and SD) in the model.
func TestTrainCVProgressAndTable(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	var b strings.Builder
	b.WriteString("path,a,b,c,d,label\n")
	for i := 0; i < 90; i++ {
		c := i % 3
		v := make([]float64, 4)
		for j := range v {
			v[j] = rng.NormFloat64()
		}
		v[c] += 2
		fmt.Fprintf(&b, "r%02d.png,%g,%g,%g,%g,k%d\n", i, v[0], v[1], v[2], v[3], c)
	}
	data := filepath.Join(dir, "d.csv")
	if err := os.WriteFile(data, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "m.json")
	_, stderr, code := run(t, "train", "--features", data, "--labels", data, "--cv", "3", "-o", model)
	if code != 0 {
		t.Fatalf("train --cv 3: exit %d\n%s", code, stderr)
	}
	progress := regexp.MustCompile(`(?m)^train: cv +(\d+)/20 +l1=\S+ +l2=\S+ +log loss \d\.\d{4} ± \d\.\d{4} +accuracy \d\.\d{3} ± \d\.\d{3}`).FindAllStringSubmatch(stderr, -1)
	if len(progress) != 20 {
		t.Fatalf("%d progress lines, want 20:\n%s", len(progress), stderr)
	}
	for i, m := range progress {
		if m[1] != fmt.Sprint(i+1) {
			t.Errorf("progress line %d says %s/20", i+1, m[1])
		}
	}
	chosen := regexp.MustCompile(`(?m)^ *(\S+) +(\S+) +\d\.\d{4} +\d\.\d{4} +\d\.\d{3} +\d\.\d{3} +<- chosen`).FindStringSubmatch(stderr)
	said := regexp.MustCompile(`cross-validation chose l1=(\S+) l2=(\S+) `).FindStringSubmatch(stderr)
	if chosen == nil || said == nil || chosen[1] != said[1] || chosen[2] != said[2] {
		t.Fatalf("table's chosen row %v, summary %v:\n%s", chosen, said, stderr)
	}
	var f struct {
		Model    struct{ L1, L2 float64 }
		Training struct {
			CV struct {
				Best struct{ L1, L2 float64 }
				Rows []struct {
					L1, L2     float64
					LogLoss    float64 `json:"log_loss"`
					Accuracy   float64
					AccuracySD float64 `json:"accuracy_sd"`
				}
			}
		}
	}
	raw, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	cv := f.Training.CV
	if len(cv.Rows) != 20 || cv.Best.L1 != f.Model.L1 || cv.Best.L2 != f.Model.L2 || fmt.Sprint(cv.Best.L1) != said[1] {
		t.Fatalf("stored CV: %d rows, best %+v, model l1 %g l2 %g", len(cv.Rows), cv.Best, f.Model.L1, f.Model.L2)
	}
	for _, r := range cv.Rows {
		if r.Accuracy < 0.4 || r.Accuracy > 1 || r.LogLoss <= 0 {
			t.Errorf("row %+v: accuracy or loss out of range on separable blobs", r)
		}
		if r.L1 == cv.Best.L1 && r.L2 == cv.Best.L2 {
			continue
		}
		for _, b := range cv.Rows {
			if b.L1 == cv.Best.L1 && b.L2 == cv.Best.L2 && r.LogLoss < b.LogLoss {
				t.Errorf("row %+v has a lower loss than the chosen %+v", r, b)
			}
		}
	}
}
