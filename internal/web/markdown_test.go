package web

import (
	"strings"
	"testing"
)

func TestMarkdownSubset(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"# Title\n\ntext **bold** and *it* and `x<y`", "<h2>Title</h2>\n<p>text <strong>bold</strong> and <em>it</em> and <code>x&lt;y</code></p>\n"},
		{"- one\n- <two>\n\nafter", "<ul>\n<li>one</li>\n<li>&lt;two&gt;</li>\n</ul>\n<p>after</p>\n"},
		{"[ok](https://example.org/a?b=1&c=2)", `<p><a href="https://example.org/a?b=1&amp;c=2" rel="noopener noreferrer">ok</a></p>` + "\n"},
		// Links other than absolute http(s) stay text.
		{"[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>\n"},
		{"[x](data:text/html,hi)", "<p>[x](data:text/html,hi)</p>\n"},
		{"[x](/relative)", "<p>[x](/relative)</p>\n"},
		{`[x](https://e.org/"onmouseover="alert(1))`, `<p><a href="https://e.org/%22onmouseover=%22alert%281" rel="noopener noreferrer">x</a>)</p>` + "\n"},
		{"<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"},
		{"<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>\n"},
	} {
		got := string(renderMarkdown(c.in))
		if got != c.want {
			t.Errorf("renderMarkdown(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
		if strings.Contains(got, "<script") || strings.Contains(got, "javascript:alert(1)\"") {
			t.Errorf("renderMarkdown(%q) lets markup through: %q", c.in, got)
		}
	}
}

func TestGatePassed(t *testing.T) {
	for _, c := range []struct {
		gate       string
		min        float64
		correct, n int
		want       bool
	}{
		{"all-correct", 0, 5, 5, true},
		{"all-correct", 0, 4, 5, false},
		{"accuracy", 0.8, 4, 5, true},
		{"accuracy", 0.8, 3, 5, false},
		{"off", 0, 0, 5, true},
		{"", 0, 4, 5, false},       // an unknown gate fails closed
		{"typo", 0.1, 4, 5, false}, // likewise
	} {
		if got := gatePassed(c.gate, c.min, c.correct, c.n); got != c.want {
			t.Errorf("gatePassed(%q, %g, %d of %d) = %v", c.gate, c.min, c.correct, c.n, got)
		}
	}
}
