package linear

// DefaultGrid is the (l1, l2) grid `winnow train --cv` searches. The loss is
// summed over rows, so useful penalties grow with the data; the grid spans
// the workshop's 0.01 up to strong shrinkage, with and without sparsity.
func DefaultGrid() []Pair {
	var grid []Pair
	for _, l1 := range []float64{0, 0.01, 0.1, 1} {
		for _, l2 := range []float64{0.01, 0.1, 1, 10, 100} {
			grid = append(grid, Pair{L1: l1, L2: l2})
		}
	}
	return grid
}
