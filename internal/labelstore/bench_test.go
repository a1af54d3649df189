package labelstore

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// BenchmarkRecord measures acknowledged answers per second with many
// concurrent writers, each a participant of its own.
func BenchmarkRecord(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "winnow.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var items []Item
	for i := range 100 {
		items = append(items, Item{Path: fmt.Sprintf("%d.png", i)})
	}
	s.AddItems(bg, items)
	s.SetClasses(bg, []string{"a", "b", "c"})
	all, _ := s.Items(bg)
	var picks []ItemID
	for _, it := range all {
		picks = append(picks, it.ID)
	}
	r, err := s.OpenRound(bg, picks)
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		sess, err := s.NewSession(bg, "bench")
		if err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			i := n.Add(1)
			if _, err := s.Record(bg, Answer{SessionID: sess.ID, ItemID: picks[i%int64(len(picks))], RoundID: r.ID, Kind: KindLabel, Class: "b"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
