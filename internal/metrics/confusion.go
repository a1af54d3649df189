package metrics

import "fmt"

// Confusion is a confusion matrix: Matrix[i][j] counts the cases of true
// class Classes[i] predicted as Classes[j]. Rows are true classes, columns
// predicted ones, both in class order. Its JSON form is the "confusion"
// object of the evaluation report.
type Confusion struct {
	Classes []string `json:"classes"`
	Matrix  [][]int  `json:"matrix"`
}

// NewConfusion counts true labels y against predicted labels pred, both in
// 0..len(classes)-1.
func NewConfusion(classes []string, y, pred []int) Confusion {
	if len(y) != len(pred) {
		panic(fmt.Sprintf("metrics: %d labels but %d predictions", len(y), len(pred)))
	}
	k := len(classes)
	m := make([][]int, k)
	for i := range m {
		m[i] = make([]int, k)
	}
	for i := range y {
		m[y[i]][pred[i]]++
	}
	return Confusion{Classes: classes, Matrix: m}
}

// N is the number of cases counted.
func (c Confusion) N() int {
	n := 0
	for _, row := range c.Matrix {
		for _, v := range row {
			n += v
		}
	}
	return n
}

// Support is the number of cases whose true class is k (row sum).
func (c Confusion) Support(k int) int {
	n := 0
	for _, v := range c.Matrix[k] {
		n += v
	}
	return n
}

// Predicted is the number of cases predicted as class k (column sum).
func (c Confusion) Predicted(k int) int {
	n := 0
	for _, row := range c.Matrix {
		n += row[k]
	}
	return n
}

// Precision of class k: of the cases predicted k, the fraction truly k.
// 0 when nothing was predicted k (0/0 taken as 0, as scikit-learn's default
// zero_division does), so a class the model never predicts scores 0, not NaN.
func (c Confusion) Precision(k int) float64 {
	return ratio(c.Matrix[k][k], c.Predicted(k))
}

// Recall of class k: of the cases truly k, the fraction predicted k; 0 when
// class k has no cases (0/0 taken as 0).
func (c Confusion) Recall(k int) float64 {
	return ratio(c.Matrix[k][k], c.Support(k))
}

// F1 of class k, the harmonic mean of precision and recall; 0 when both are
// 0. Computed from counts as 2TP / (2TP + FP + FN), which equals the
// harmonic mean whenever that is defined.
func (c Confusion) F1(k int) float64 {
	tp := c.Matrix[k][k]
	return ratio(2*tp, c.Support(k)+c.Predicted(k))
}

// RowNormalized returns each row divided by its sum (the recall-like view:
// where the cases of each true class went); a row without cases stays 0.
func (c Confusion) RowNormalized() [][]float64 {
	out := make([][]float64, len(c.Matrix))
	for i, row := range c.Matrix {
		out[i] = make([]float64, len(row))
		s := c.Support(i)
		for j, v := range row {
			out[i][j] = ratio(v, s)
		}
	}
	return out
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
