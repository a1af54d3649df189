// Package plural writes counts in messages: "1 row", "2 rows", "0 classes".
// A message that prints "%d rows" says "1 rows" for one, and one is common
// (one labelled item, one test item, one draw).
package plural

import (
	"strconv"
	"strings"
)

// N is n followed by noun, in the plural unless n is 1 (or -1): N(1,
// "row") is "1 row", N(3, "class") "3 classes", N(2, "labelled image") "2
// labelled images".
func N(n int, noun string) string {
	return strconv.Itoa(n) + " " + Noun(n, noun)
}

// Noun is noun in the plural unless n is 1 or -1; only its last word
// changes.
func Noun(n int, noun string) string {
	if n == 1 || n == -1 {
		return noun
	}
	return Of(noun)
}

// Of is the plural of a regular English noun (or of the last word of a
// phrase): +es after s, x, z, ch and sh, y to ies after a consonant, else +s.
// The messages use no irregular nouns.
func Of(noun string) string {
	switch {
	case noun == "":
		return noun
	case strings.HasSuffix(noun, "s"), strings.HasSuffix(noun, "x"), strings.HasSuffix(noun, "z"),
		strings.HasSuffix(noun, "ch"), strings.HasSuffix(noun, "sh"):
		return noun + "es"
	case strings.HasSuffix(noun, "y") && len(noun) > 1 && !strings.ContainsRune("aeiou", rune(noun[len(noun)-2])):
		return noun[:len(noun)-1] + "ies"
	}
	return noun + "s"
}

// IsAre is the verb after a count of n: "is" for one, "are" otherwise.
func IsAre(n int) string {
	if n == 1 || n == -1 {
		return "is"
	}
	return "are"
}
