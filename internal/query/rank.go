package query

import "sort"

// key orders rows: higher score first, then higher second score, then lower
// tie. tie is a hash of (seed, path), so rows with equal scores are ordered
// by the seed and their identity, not by where they sit in the pool.
type key struct {
	score, second float64
	tie           uint64
}

// before reports whether a ranks ahead of b.
func (a key) before(b key) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	if a.second != b.second {
		return a.second > b.second
	}
	return a.tie < b.tie
}

// tieOf hashes (seed, path): FNV-1a over the seed's 8 bytes and the path
// (inline, as hash/fnv would allocate per row), then the splitmix64
// finaliser, because FNV alone leaves paths that differ in their last
// character close together in its high bits.
func tieOf(seed uint64, path string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < 8; i++ {
		h = (h ^ (seed >> (8 * i) & 0xff)) * prime
	}
	for i := 0; i < len(path); i++ {
		h = (h ^ uint64(path[i])) * prime
	}
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9
	h = (h ^ (h >> 27)) * 0x94d049bb133111eb
	return h ^ (h >> 31)
}

// topN keeps the n best keys offered to it, each with the slot (0..n-1) its
// owner stores data in. It is a binary heap with the worst kept key at the
// root, so rejecting a row that does not make the cut costs one comparison.
type topN struct {
	n    int
	keys []key
	slot []int
}

func newTopN(n int) *topN {
	return &topN{n: n, keys: make([]key, 0, min(n, 1<<16)), slot: make([]int, 0, min(n, 1<<16))}
}

// worse reports whether the entry at i ranks behind the one at j.
func (t *topN) worse(i, j int) bool { return t.keys[j].before(t.keys[i]) }

func (t *topN) swap(i, j int) {
	t.keys[i], t.keys[j] = t.keys[j], t.keys[i]
	t.slot[i], t.slot[j] = t.slot[j], t.slot[i]
}

// offer returns the slot k now occupies (a fresh one while the heap is not
// full, else the evicted key's), or -1 if k does not make the cut.
func (t *topN) offer(k key) int {
	if len(t.keys) < t.n {
		s := len(t.keys)
		t.keys = append(t.keys, k)
		t.slot = append(t.slot, s)
		for i := s; i > 0; {
			p := (i - 1) / 2
			if !t.worse(i, p) {
				break
			}
			t.swap(i, p)
			i = p
		}
		return s
	}
	if t.n == 0 || !k.before(t.keys[0]) {
		return -1
	}
	s := t.slot[0]
	t.keys[0] = k
	for i := 0; ; {
		w := i
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < len(t.keys) && t.worse(c, w) {
				w = c
			}
		}
		if w == i {
			break
		}
		t.swap(i, w)
		i = w
	}
	return s
}

// full reports whether the next offer has to beat the root.
func (t *topN) full() bool { return len(t.keys) >= t.n }

// sorted returns the kept slots, best first.
func (t *topN) sorted() []int {
	idx := make([]int, len(t.keys))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return t.keys[idx[a]].before(t.keys[idx[b]]) })
	out := make([]int, len(idx))
	for i, j := range idx {
		out[i] = t.slot[j]
	}
	return out
}

// best returns up to n of rows, best first by keys[row].
func best(keys []key, rows []int, n int) []int {
	if n >= len(rows) {
		out := append([]int(nil), rows...)
		sort.Slice(out, func(a, b int) bool { return keys[out[a]].before(keys[out[b]]) })
		return out
	}
	t := newTopN(n)
	held := make([]int, n)
	for _, r := range rows {
		if s := t.offer(keys[r]); s >= 0 {
			held[s] = r
		}
	}
	out := t.sorted()
	for i, s := range out {
		out[i] = held[s]
	}
	return out
}

// without returns rows minus those in drop.
func without(rows, drop []int) []int {
	if len(drop) == 0 {
		return rows
	}
	d := make(map[int]bool, len(drop))
	for _, r := range drop {
		d[r] = true
	}
	out := make([]int, 0, len(rows))
	for _, r := range rows {
		if !d[r] {
			out = append(out, r)
		}
	}
	return out
}
