package parser

import (
	"fmt"
	"strings"
)

const (
	exprOpen  = "${"
	exprClose = '}'
)

// Segment is one part of a string: either literal text or an expression.
//
// Exactly one of the fields is meaningful: when Expr is non-empty the
// segment is an expression and Expr holds the text written between "${" and
// the matching "}" exactly as written (not trimmed); otherwise the segment is
// literal text held in Literal. ParseString never produces an empty
// expression, so Expr != "" is a reliable discriminator.
type Segment struct {
	Literal string
	Expr    string
}

// IsExpr reports whether the segment is an expression.
func (s Segment) IsExpr() bool { return s.Expr != "" }

// String returns the segment in source form: the literal text, or the
// expression wrapped in "${" and "}".
func (s Segment) String() string {
	if s.IsExpr() {
		return exprOpen + s.Expr + string(exprClose)
	}
	return s.Literal
}

// SyntaxError describes a malformed ${...} expression in a string.
type SyntaxError struct {
	// Offset is the byte offset in the scanned string at which the problem
	// was detected (for unterminated or empty expressions, the offset of
	// the opening "${").
	Offset int
	// Reason is a short lowercase description, e.g. "unterminated expression".
	Reason string
	// Detail optionally adds context to Reason.
	Detail string
}

func (e *SyntaxError) Error() string {
	msg := fmt.Sprintf("%s at offset %d", e.Reason, e.Offset)
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}

// HasExpressions reports whether s contains a "${" opener at all. It is a
// cheap pre-check: a true result does not mean s is well formed.
func HasExpressions(s string) bool {
	return strings.Contains(s, exprOpen)
}

// ParseString splits s into literal and expression segments, in order.
//
// The returned segments re-join (see Segment.String) to exactly s. Literal
// segments are never empty and never adjacent to each other. A string
// without "${" yields a single literal segment, and the empty string yields
// nil. A string is a standalone expression when the result is exactly one
// expression segment.
//
// Errors are *SyntaxError values: an unterminated "${", a "${" nested inside
// an expression (outside a string literal), or an empty or whitespace-only
// expression.
func ParseString(s string) ([]Segment, error) {
	var segs []Segment
	litStart := 0
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], exprOpen)
		if j < 0 {
			break
		}
		open := i + j
		end, err := scanExpr(s, open)
		if err != nil {
			return nil, err
		}
		expr := s[open+len(exprOpen) : end]
		if strings.TrimSpace(expr) == "" {
			return nil, &SyntaxError{Offset: open, Reason: "empty expression"}
		}
		if open > litStart {
			segs = append(segs, Segment{Literal: s[litStart:open]})
		}
		segs = append(segs, Segment{Expr: expr})
		i = end + 1
		litStart = i
	}
	if litStart < len(s) {
		segs = append(segs, Segment{Literal: s[litStart:]})
	}
	return segs, nil
}
