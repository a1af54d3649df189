package web

import (
	"html"
	"html/template"
	"net/url"
	"regexp"
	"strings"
)

// The project's about text is written by whoever ran `winnow init`, but it is
// shown to every participant, so it is treated as untrusted: every character
// is escaped first and only a few constructs are turned back into markup.
// Nothing the author writes can produce an attribute other than an http(s)
// link target, or an element other than these.
var (
	mdBold   = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	mdItalic = regexp.MustCompile(`\*([^*]+)\*`)
	mdCode   = regexp.MustCompile("`([^`]+)`")
	// Runs on already-escaped text, so the URL cannot contain a raw quote or
	// angle bracket; the scheme is still checked below.
	mdLink = regexp.MustCompile(`\[([^\]]+)\]\(([^)\s]+)\)`)
)

// renderMarkdown turns a small Markdown subset into safe HTML: paragraphs,
// "#" headings, "-"/"*" lists, **bold**, *italic*, `code` and [links](https://...).
func renderMarkdown(src string) template.HTML {
	var b strings.Builder
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	var para []string
	inList := false
	flush := func() {
		if len(para) > 0 {
			b.WriteString("<p>" + inline(strings.Join(para, " ")) + "</p>\n")
			para = nil
		}
	}
	endList := func() {
		if inList {
			b.WriteString("</ul>\n")
			inList = false
		}
	}
	for _, raw := range lines {
		line := strings.TrimSpace(raw)
		switch {
		case line == "":
			flush()
			endList()
		case strings.HasPrefix(line, "#"):
			flush()
			endList()
			level := len(line) - len(strings.TrimLeft(line, "#"))
			// h1 is the page's own heading.
			level = min(max(level+1, 2), 4)
			tag := string(rune('0' + level))
			b.WriteString("<h" + tag + ">" + inline(strings.TrimSpace(line[len(line)-len(strings.TrimLeft(line, "#")):])) + "</h" + tag + ">\n")
		case strings.HasPrefix(line, "- ") || strings.HasPrefix(line, "* "):
			flush()
			if !inList {
				b.WriteString("<ul>\n")
				inList = true
			}
			b.WriteString("<li>" + inline(line[2:]) + "</li>\n")
		default:
			endList()
			para = append(para, line)
		}
	}
	flush()
	endList()
	return template.HTML(b.String())
}

func inline(s string) string {
	s = html.EscapeString(s)
	s = mdCode.ReplaceAllString(s, "<code>$1</code>")
	s = mdLink.ReplaceAllStringFunc(s, func(m string) string {
		parts := mdLink.FindStringSubmatch(m)
		text, target := parts[1], html.UnescapeString(parts[2])
		u, err := url.Parse(target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return m // shown as typed, still escaped
		}
		return `<a href="` + html.EscapeString(u.String()) + `" rel="noopener noreferrer">` + text + `</a>`
	})
	s = mdBold.ReplaceAllString(s, "<strong>$1</strong>")
	s = mdItalic.ReplaceAllString(s, "<em>$1</em>")
	return s
}
