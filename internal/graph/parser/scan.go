package parser

import (
	"strconv"
	"strings"
)

// scanExpr scans the expression whose "${" opener starts at s[open] and
// returns the index of its matching closing brace. Braces must balance and
// CEL string literals are skipped, so quotes, braces and "${" inside them
// are not interpreted.
func scanExpr(s string, open int) (int, error) {
	depth := 1
	for i := open + len(exprOpen); i < len(s); {
		switch c := s[i]; c {
		case '"', '\'':
			next, ok := skipStringLiteral(s, i, open+len(exprOpen))
			if !ok {
				return 0, &SyntaxError{
					Offset: open,
					Reason: "unterminated expression",
					Detail: "string literal at offset " + strconv.Itoa(i) + " is not closed",
				}
			}
			i = next
			continue
		case '{':
			depth++
		case exprClose:
			depth--
			if depth == 0 {
				return i, nil
			}
		case '$':
			if strings.HasPrefix(s[i:], exprOpen) {
				return 0, &SyntaxError{Offset: i, Reason: "nested expression"}
			}
		}
		i++
	}
	return 0, &SyntaxError{Offset: open, Reason: "unterminated expression"}
}

// skipStringLiteral skips the CEL string literal whose opening quote is at
// s[q] and returns the index just past its closing quote. exprStart is the
// first byte of the expression; it bounds the look-back for a raw-string
// prefix. It handles single, double and triple quotes, backslash escapes,
// and raw strings (r"..." / R'...', optionally combined with a b/B bytes
// prefix), in which backslashes are not escapes.
func skipStringLiteral(s string, q, exprStart int) (int, bool) {
	quote := s[q]
	raw := isRawPrefix(s[exprStart:q])
	delim := string(quote)
	if strings.HasPrefix(s[q:], strings.Repeat(delim, 3)) {
		delim = strings.Repeat(delim, 3)
	}
	for i := q + len(delim); i < len(s); {
		if s[i] == '\\' && !raw {
			i += 2
			continue
		}
		if strings.HasPrefix(s[i:], delim) {
			return i + len(delim), true
		}
		i++
	}
	return 0, false
}

// isRawPrefix reports whether the text immediately before a quote ends with
// a CEL string prefix that makes the literal raw: r or R, optionally combined
// with b or B (in either order), not itself part of a longer identifier.
func isRawPrefix(before string) bool {
	n := 0
	for n < 2 && n < len(before) && isPrefixLetter(before[len(before)-1-n]) {
		n++
	}
	for ; n > 0; n-- {
		prefix := strings.ToLower(before[len(before)-n:])
		if prefix != "r" && prefix != "b" && prefix != "rb" && prefix != "br" {
			continue
		}
		if rest := before[:len(before)-n]; rest != "" && isIdentByte(rest[len(rest)-1]) {
			continue
		}
		return strings.Contains(prefix, "r")
	}
	return false
}

func isPrefixLetter(c byte) bool {
	return c == 'r' || c == 'R' || c == 'b' || c == 'B'
}

func isIdentByte(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}
