package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxTextWidth is the widest confusion matrix WriteText prints with class
// names as column headers; wider ones (ten classes with long names) number
// the columns instead, so the matrix still fits a terminal.
const maxTextWidth = 100

// WriteText writes r as a plain-text summary for a terminal: the headline
// numbers, a per-class table with its macro row, and the confusion matrix.
// Undefined values print as "-".
func (r Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	classes := r.Confusion.Classes
	names := make([]string, len(classes))
	for i, c := range classes {
		names[i] = printable(c)
	}

	writeTable(bw, [][]string{
		{"cases", strconv.Itoa(r.N)},
		{"accuracy", num(r.Accuracy)},
		{"log loss", num(r.LogLoss)},
		{"macro AUC", num(r.MacroAUC)},
	}, false)
	fmt.Fprintln(bw)

	rows := [][]string{{"class", "precision", "recall", "F1", "AUC", "support"}}
	for i, c := range classes {
		rows = append(rows, []string{names[i],
			num(r.Precision[c]), num(r.Recall[c]), num(r.F1[c]), num(r.AUC[c]),
			strconv.Itoa(r.Confusion.Support(i))})
	}
	rows = append(rows, []string{"macro average",
		num(r.MacroPrecision), num(r.MacroRecall), num(r.MacroF1), num(r.MacroAUC),
		strconv.Itoa(r.Confusion.N())})
	writeTable(bw, rows, true)
	if len(r.Absent) > 0 {
		absent := make([]string, len(r.Absent))
		for i, c := range r.Absent {
			absent[i] = printable(c)
		}
		fmt.Fprintf(bw, "macro averages over the %d classes with cases; no cases of: %s\n",
			len(classes)-len(r.Absent), strings.Join(absent, ", "))
	}
	fmt.Fprintln(bw)

	conf := confusionRows(names, r.Confusion.Matrix, false)
	if tableWidth(conf) <= maxTextWidth {
		fmt.Fprintln(bw, "confusion matrix (rows: true class, columns: predicted class)")
	} else {
		// Too wide with names on top: number the columns instead.
		conf = confusionRows(names, r.Confusion.Matrix, true)
		fmt.Fprintln(bw, "confusion matrix (rows: true class, columns: predicted class by number)")
	}
	writeTable(bw, conf, false)
	return bw.Flush()
}

func confusionRows(names []string, m [][]int, numbered bool) [][]string {
	head := []string{""}
	for i, n := range names {
		if numbered {
			head = append(head, strconv.Itoa(i))
		} else {
			head = append(head, n)
		}
	}
	rows := [][]string{head}
	for i, row := range m {
		name := names[i]
		if numbered {
			name = strconv.Itoa(i) + " " + name
		}
		cells := []string{name}
		for _, v := range row {
			cells = append(cells, strconv.Itoa(v))
		}
		rows = append(rows, cells)
	}
	return rows
}

// num formats a metric with four decimals, "-" when undefined.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// printable replaces control characters in a user-supplied class name, so
// that a name cannot move the cursor or recolour the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
}

func colWidths(rows [][]string) []int {
	var w []int
	for _, row := range rows {
		for j, cell := range row {
			if j >= len(w) {
				w = append(w, 0)
			}
			w[j] = max(w[j], utf8.RuneCountInString(cell))
		}
	}
	return w
}

func tableWidth(rows [][]string) int {
	t := 0
	for _, w := range colWidths(rows) {
		t += w + 2
	}
	return t
}

// writeTable writes rows with the first column left-aligned and the others
// right-aligned, two spaces apart. With rule, a dashed line follows the
// header row and precedes the last row.
func writeTable(w io.Writer, rows [][]string, rule bool) {
	widths := colWidths(rows)
	line := func(row []string) {
		var b strings.Builder
		for j, cell := range row {
			pad := strings.Repeat(" ", widths[j]-utf8.RuneCountInString(cell))
			switch {
			case j == 0:
				b.WriteString(cell + pad)
			default:
				b.WriteString("  " + pad + cell)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	dashes := func() {
		fmt.Fprintln(w, strings.Repeat("-", tableWidth(rows)-2))
	}
	for i, row := range rows {
		if rule && i == len(rows)-1 {
			dashes()
		}
		line(row)
		if rule && i == 0 {
			dashes()
		}
	}
}
