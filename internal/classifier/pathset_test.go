package classifier

import (
	"encoding/json"
	"fmt"
	"testing"
)

func TestPathSet(t *testing.T) {
	var train []string
	for i := range 5000 {
		train = append(train, fmt.Sprintf("class%d/%06d.png", i%7, i))
	}
	s := NewPathSet(append(train, train[0])) // a repeat counts once
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back PathSet
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.N != len(train) {
		t.Fatalf("N = %d, want %d", back.N, len(train))
	}
	// About three bytes a path, base64: the size that lets 100k rows fit.
	if perPath := float64(len(back.Data)) / float64(back.N); perPath > 4.5 {
		t.Errorf("%.2f base64 bytes per path", perPath)
	}
	in, err := back.Matcher()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range train {
		if !in(p) {
			t.Fatalf("%s is a training path but not in the set", p)
		}
	}
	false_ := 0
	for i := range 20000 {
		if in(fmt.Sprintf("other/%06d.png", i)) {
			false_++
		}
	}
	if false_ > 2 { // expected 20000/2^20 = 0.02
		t.Errorf("%d of 20000 other paths matched", false_)
	}
	if _, err := (&PathSet{N: 2, Bits: 20, Data: "!!"}).Matcher(); err == nil {
		t.Error("corrupt data accepted")
	}
}
