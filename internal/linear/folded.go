package linear

// Folded returns the model with its normalisation folded in, as a K×D
// weight matrix (row-major) and K intercepts acting on raw features: what an
// exported graph multiplies by, so it needs no normalisation step of its own.
func (m *Model) Folded() (w []float64, b []float64) {
	p := m.Predictor()
	return p.w, p.b
}
