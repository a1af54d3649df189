package main

import "testing"

func TestPrintable(t *testing.T) {
	for _, c := range []struct {
		in   string
		keep bool
		want string
	}{
		{"plain ünïcode.png", false, "plain ünïcode.png"},
		{"\x1b[31mred\x1b[0m.png", false, `\x1b[31mred\x1b[0m.png`},
		{"a\rb\nc\td", false, `a\rb\nc` + "\td"},
		{"line one\nline two", true, "line one\nline two"},
		{"bad \xff byte", false, `bad \xff byte`},
		{"next line \u0085 and \u2028", false, `next line \u0085 and \u2028`},
		{"del \x7f", false, `del \x7f`},
	} {
		if got := printable(c.in, c.keep); got != c.want {
			t.Errorf("printable(%q, %v) = %q, want %q", c.in, c.keep, got, c.want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"1GiB": 1 << 30, "512MiB": 512 << 20, "2G": 2 << 30, "300MB": 300e6,
		"1073741824": 1 << 30, " 1.5 GiB ": 3 << 29, "64k": 64 << 10,
	} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "1x", "-1GiB", "1e30GiB", "NaN"} {
		if got, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) = %d, want an error", in, got)
		}
	}
}
