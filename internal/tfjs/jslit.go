package tfjs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// nsfwjs ships each model file as a browserify bundle of one module whose
// body is `X.exports=VALUE`, VALUE being a minified JS literal: the model.json
// object, or one base64 string per weight shard. The minifier renames the
// module function's parameters, so we find the second one and expect
// `<it>.exports=` right after the function header.
var (
	bundleHead   = regexp.MustCompile(`\{1:\[function\(([\w$]+),([\w$]+),([\w$]+)\)\{`)
	bundleSuffix = `},{}]},{},[1])(1)});`
)

// unwrapBundle returns the source text of VALUE in a browserify wrapper.
func unwrapBundle(src []byte) ([]byte, error) {
	m := bundleHead.FindSubmatchIndex(src)
	if m == nil {
		return nil, fmt.Errorf("not a browserify model bundle: no `{1:[function(a,b,c){` module header")
	}
	rest := src[m[1]:]
	exports := string(src[m[4]:m[5]]) + ".exports="
	if !bytes.HasPrefix(rest, []byte(exports)) {
		return nil, fmt.Errorf("browserify bundle: module body does not start with %q", exports)
	}
	rest = rest[len(exports):]
	end := bytes.LastIndex(rest, []byte(bundleSuffix))
	if end < 0 || len(bytes.TrimSpace(rest[end+len(bundleSuffix):])) != 0 {
		return nil, fmt.Errorf("browserify bundle: does not end with %q", bundleSuffix)
	}
	return rest[:end], nil
}

// jsToJSON converts one JS literal -- objects, arrays, strings, numbers,
// true/false/null, the minifier's !0/!1 and `void 0` -- to strict JSON. It
// is a parser, not a set of regular expressions, so text inside strings is
// never rewritten. The whole input must be the one value.
func jsToJSON(src []byte) ([]byte, error) {
	p := &jsParser{src: src}
	var out bytes.Buffer
	out.Grow(len(src) + len(src)/8)
	if err := p.value(&out, 0); err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(src) {
		return nil, p.errorf("unexpected %q after the value", p.peekText())
	}
	return out.Bytes(), nil
}

// jsString parses a source text that is exactly one JS string literal.
func jsString(src []byte) (string, error) {
	p := &jsParser{src: src}
	p.space()
	s, err := p.str()
	if err != nil {
		return "", err
	}
	p.space()
	if p.pos != len(src) {
		return "", p.errorf("unexpected %q after the string", p.peekText())
	}
	return s, nil
}

type jsParser struct {
	src []byte
	pos int
}

const maxDepth = 200

func (p *jsParser) errorf(format string, a ...any) error {
	line := 1 + bytes.Count(p.src[:min(p.pos, len(p.src))], []byte{'\n'})
	return fmt.Errorf("JS literal, line %d offset %d: %s", line, p.pos, fmt.Sprintf(format, a...))
}

func (p *jsParser) peekText() string {
	end := min(p.pos+20, len(p.src))
	return string(p.src[p.pos:end])
}

func (p *jsParser) space() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsParser) value(out *bytes.Buffer, depth int) error {
	if depth > maxDepth {
		return p.errorf("nested too deeply")
	}
	p.space()
	if p.pos >= len(p.src) {
		return p.errorf("unexpected end of input")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(out, depth)
	case c == '[':
		return p.array(out, depth)
	case c == '"' || c == '\'':
		s, err := p.str()
		if err != nil {
			return err
		}
		writeJSONString(out, s)
		return nil
	case c == '!':
		// The minifier writes true as !0 and false as !1.
		switch {
		case p.has("!0"):
			out.WriteString("true")
		case p.has("!1"):
			out.WriteString("false")
		default:
			return p.errorf("unsupported expression %q", p.peekText())
		}
		p.pos += 2
		return nil
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return p.number(out)
	default:
		word := p.ident()
		switch word {
		case "true", "false", "null":
			out.WriteString(word)
		case "void":
			// `void 0` is the minifier's undefined; JSON.stringify would drop the
			// key, null is the closest JSON value.
			p.space()
			if !p.has("0") {
				return p.errorf("unsupported expression after void: %q", p.peekText())
			}
			p.pos++
			out.WriteString("null")
		case "":
			return p.errorf("unexpected %q", p.peekText())
		default:
			return p.errorf("unsupported identifier %q (only literals are understood)", word)
		}
		return nil
	}
}

func (p *jsParser) has(s string) bool { return bytes.HasPrefix(p.src[p.pos:], []byte(s)) }

func isIdentByte(c byte, first bool) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (!first && c >= '0' && c <= '9')
}

func (p *jsParser) ident() string {
	start := p.pos
	for p.pos < len(p.src) && isIdentByte(p.src[p.pos], p.pos == start) {
		p.pos++
	}
	return string(p.src[start:p.pos])
}

func (p *jsParser) object(out *bytes.Buffer, depth int) error {
	p.pos++ // {
	out.WriteByte('{')
	for n := 0; ; n++ {
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == '}' {
			p.pos++
			out.WriteByte('}')
			return nil
		}
		if n > 0 {
			if p.pos >= len(p.src) || p.src[p.pos] != ',' {
				return p.errorf("expected , or } in object, found %q", p.peekText())
			}
			p.pos++
			p.space()
			if p.pos < len(p.src) && p.src[p.pos] == '}' { // trailing comma
				p.pos++
				out.WriteByte('}')
				return nil
			}
			out.WriteByte(',')
		}
		var key string
		switch {
		case p.pos >= len(p.src):
			return p.errorf("unexpected end of input in object")
		case p.src[p.pos] == '"' || p.src[p.pos] == '\'':
			s, err := p.str()
			if err != nil {
				return err
			}
			key = s
		case p.src[p.pos] >= '0' && p.src[p.pos] <= '9' || p.src[p.pos] == '.':
			// A numeric key names the property by its canonical number text.
			var num bytes.Buffer
			if err := p.number(&num); err != nil {
				return err
			}
			key = num.String()
		default:
			key = p.ident()
			if key == "" {
				return p.errorf("expected a property name, found %q", p.peekText())
			}
		}
		writeJSONString(out, key)
		p.space()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return p.errorf("expected : after property %q", key)
		}
		p.pos++
		out.WriteByte(':')
		if err := p.value(out, depth+1); err != nil {
			return err
		}
	}
}

func (p *jsParser) array(out *bytes.Buffer, depth int) error {
	p.pos++ // [
	out.WriteByte('[')
	for n := 0; ; n++ {
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == ']' {
			p.pos++
			out.WriteByte(']')
			return nil
		}
		if n > 0 {
			if p.pos >= len(p.src) || p.src[p.pos] != ',' {
				return p.errorf("expected , or ] in array, found %q", p.peekText())
			}
			p.pos++
			p.space()
			if p.pos < len(p.src) && p.src[p.pos] == ']' {
				p.pos++
				out.WriteByte(']')
				return nil
			}
			out.WriteByte(',')
		}
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			return p.errorf("array holes are not supported")
		}
		if err := p.value(out, depth+1); err != nil {
			return err
		}
	}
}

// number accepts JS numeric literals (.5, 5., 1e-3, 0x1f, a sign) and writes
// the shortest JSON text of the same float64, as JS itself would read it.
func (p *jsParser) number(out *bytes.Buffer) error {
	start := p.pos
	neg := false
	if c := p.src[p.pos]; c == '-' || c == '+' {
		neg = c == '-'
		p.pos++
		p.space()
	}
	body := p.pos
	if p.has("0x") || p.has("0X") {
		p.pos += 2
		for p.pos < len(p.src) && strings.IndexByte("0123456789abcdefABCDEF", p.src[p.pos]) >= 0 {
			p.pos++
		}
		v, err := strconv.ParseUint(string(p.src[body+2:p.pos]), 16, 64)
		if err != nil {
			return p.errorf("bad hex number %q", p.src[start:p.pos])
		}
		f := float64(v)
		if neg {
			f = -f
		}
		out.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		return nil
	}
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' ||
			(c == '-' || c == '+') && (p.src[p.pos-1] == 'e' || p.src[p.pos-1] == 'E') {
			p.pos++
			continue
		}
		break
	}
	text := string(p.src[body:p.pos])
	if text == "" || text == "." {
		return p.errorf("bad number %q", p.src[start:p.pos])
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return p.errorf("bad number %q", p.src[start:p.pos])
	}
	if neg {
		f = -f
	}
	out.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	return nil
}

// str parses a single- or double-quoted JS string with its escapes.
func (p *jsParser) str() (string, error) {
	if p.pos >= len(p.src) || (p.src[p.pos] != '"' && p.src[p.pos] != '\'') {
		return "", p.errorf("expected a string, found %q", p.peekText())
	}
	quote := p.src[p.pos]
	p.pos++
	start := p.pos
	// Fast path: no escapes (every base64 weight shard).
	if i := bytes.IndexByte(p.src[start:], quote); i >= 0 && bytes.IndexByte(p.src[start:start+i], '\\') < 0 &&
		bytes.IndexByte(p.src[start:start+i], '\n') < 0 {
		p.pos = start + i + 1
		return string(p.src[start : start+i]), nil
	}
	var b strings.Builder
	for {
		if p.pos >= len(p.src) {
			return "", p.errorf("unterminated string")
		}
		c := p.src[p.pos]
		switch {
		case c == quote:
			p.pos++
			return b.String(), nil
		case c == '\n' || c == '\r':
			return "", p.errorf("newline in string")
		case c != '\\':
			b.WriteByte(c)
			p.pos++
			continue
		}
		p.pos++ // backslash
		if p.pos >= len(p.src) {
			return "", p.errorf("unterminated string")
		}
		e := p.src[p.pos]
		p.pos++
		switch e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '0':
			b.WriteByte(0)
		case '\n': // line continuation
		case 'x':
			v, err := p.hex(2)
			if err != nil {
				return "", err
			}
			b.WriteRune(rune(v))
		case 'u':
			v, err := p.unicodeEscape()
			if err != nil {
				return "", err
			}
			if utf16.IsSurrogate(v) && p.has(`\u`) {
				save := p.pos
				p.pos += 2
				if lo, err := p.unicodeEscape(); err == nil && utf16.DecodeRune(v, lo) != utf8.RuneError {
					v = utf16.DecodeRune(v, lo)
				} else {
					p.pos = save
				}
			}
			b.WriteRune(v)
		default:
			b.WriteByte(e) // \" \' \\ \/ and any other char stand for themselves
		}
	}
}

func (p *jsParser) unicodeEscape() (rune, error) {
	// p.pos is just after the 'u'
	if p.has("{") {
		p.pos++
		end := bytes.IndexByte(p.src[p.pos:], '}')
		if end < 0 {
			return 0, p.errorf(`bad \u{...} escape`)
		}
		v, err := strconv.ParseUint(string(p.src[p.pos:p.pos+end]), 16, 32)
		if err != nil {
			return 0, p.errorf(`bad \u{...} escape`)
		}
		p.pos += end + 1
		return rune(v), nil
	}
	v, err := p.hex(4)
	return rune(v), err
}

func (p *jsParser) hex(n int) (uint64, error) {
	if p.pos+n > len(p.src) {
		return 0, p.errorf("short escape")
	}
	v, err := strconv.ParseUint(string(p.src[p.pos:p.pos+n]), 16, 32)
	if err != nil {
		return 0, p.errorf("bad escape %q", p.src[p.pos:p.pos+n])
	}
	p.pos += n
	return v, nil
}

func writeJSONString(out *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // never fails for a string
	out.Write(enc)
}
