package assess

import (
	"html/template"
	"io"

	"github.com/winnowml/winnow/internal/report"
)

// Bars are the workshop's models as bars of test accuracy, in rank order:
// participants in one colour, the consensus in another, the references
// (majority vote, the initial set, the true labels) in grey.
func Bars(rep *Report) []report.Bar {
	var out []report.Bar
	for _, m := range rep.Models {
		g := 2
		switch m.Kind {
		case "participant":
			g = 0
		case "consensus":
			g = 1
		}
		out = append(out, report.Bar{Label: m.Name, Value: m.Accuracy.V, OK: m.Accuracy.OK, Group: g})
	}
	return out
}

// Chart is the bar chart of Bars as inline SVG; "" without models.
func Chart(rep *Report) (template.HTML, error) {
	bars := Bars(rep)
	if len(bars) == 0 {
		return "", nil
	}
	return report.AssessmentBars("", "test accuracy", bars)
}

// HTML writes the assessment as a self-contained page.
func HTML(w io.Writer, rep *Report) error {
	chart, err := Chart(rep)
	if err != nil {
		return err
	}
	return report.AssessmentHTML(w, rep, chart)
}
