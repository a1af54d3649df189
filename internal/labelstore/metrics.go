package labelstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"time"
)

// RoundMetrics is one trained model and its evaluation on the gold test
// items. Round 0 is the model trained at init (before any round), round N
// the one trained when round N closed.
type RoundMetrics struct {
	Round     int // round number
	At        time.Time
	Labels    int // training rows
	TestItems int // gold test items evaluated (0: no evaluation)
	// Accuracy, LogLoss and MacroAUC are NaN when undefined (no test
	// items, or a class without cases).
	Accuracy, LogLoss, MacroAUC float64
	Model                       string          // model file, relative to the project folder
	Report                      json.RawMessage // metrics.Report as JSON, "null" without evaluation
	ReportHTML                  string          // evaluation page, relative to the project folder ("" without)
	Summary                     string          // consensus and training notes, JSON
}

func nullable(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

// RecordMetrics stores (or replaces) the evaluation of a round's model.
func (s *Store) RecordMetrics(ctx context.Context, m RoundMetrics) error {
	if len(m.Report) == 0 {
		m.Report = json.RawMessage("null")
	}
	if m.At.IsZero() {
		m.At = time.Now()
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO evaluations(round_number, at, labels, test_items, accuracy, log_loss, macro_auc, model, report, report_html, summary)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(round_number) DO UPDATE SET at = excluded.at, labels = excluded.labels, test_items = excluded.test_items,
				accuracy = excluded.accuracy, log_loss = excluded.log_loss, macro_auc = excluded.macro_auc, model = excluded.model,
				report = excluded.report, report_html = excluded.report_html, summary = excluded.summary`,
			m.Round, nanos(m.At), m.Labels, m.TestItems, nullable(m.Accuracy), nullable(m.LogLoss), nullable(m.MacroAUC),
			m.Model, string(m.Report), m.ReportHTML, m.Summary)
		return err
	})
}

// Metrics returns every trained model's evaluation, by round number (0 for
// the model trained at init): the learning curve.
func (s *Store) Metrics(ctx context.Context) ([]RoundMetrics, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT round_number, at, labels, test_items, accuracy, log_loss, macro_auc, model, report, report_html, summary
		FROM evaluations ORDER BY round_number`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RoundMetrics
	for rows.Next() {
		var m RoundMetrics
		var at int64
		var acc, ll, auc sql.NullFloat64
		var report string
		if err := rows.Scan(&m.Round, &at, &m.Labels, &m.TestItems, &acc, &ll, &auc, &m.Model, &report, &m.ReportHTML, &m.Summary); err != nil {
			return nil, err
		}
		m.At = fromNanos(at)
		m.Accuracy, m.LogLoss, m.MacroAUC = orNaN(acc), orNaN(ll), orNaN(auc)
		m.Report = json.RawMessage(report)
		out = append(out, m)
	}
	return out, rows.Err()
}

func orNaN(v sql.NullFloat64) float64 {
	if !v.Valid {
		return math.NaN()
	}
	return v.Float64
}
