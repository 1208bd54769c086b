package parser

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func lit(s string) Segment  { return Segment{Literal: s} }
func expr(s string) Segment { return Segment{Expr: s} }

func TestParseString(t *testing.T) {
	cases := map[string]struct {
		reason  string
		in      string
		want    []Segment
		wantErr string
	}{
		"Empty": {
			reason: "The empty string has no segments.",
			in:     "",
			want:   nil,
		},
		"LiteralOnly": {
			reason: "A string without ${ is a single literal segment.",
			in:     "nginx:1.27",
			want:   []Segment{lit("nginx:1.27")},
		},
		"DollarAlone": {
			reason: "A $ not followed by { is literal text.",
			in:     "$HOME costs $5 {x} $",
			want:   []Segment{lit("$HOME costs $5 {x} $")},
		},
		"Standalone": {
			reason: "A string that is exactly one expression is a single expression segment.",
			in:     "${schema.spec.replicas}",
			want:   []Segment{expr("schema.spec.replicas")},
		},
		"StandaloneWhitespaceKept": {
			reason: "Expression text is kept exactly as written, including whitespace.",
			in:     "${ schema.spec.name }",
			want:   []Segment{expr(" schema.spec.name ")},
		},
		"TemplatePrefixSuffix": {
			reason: "Literal text around an expression makes a string template.",
			in:     "app-${schema.spec.name}-svc",
			want:   []Segment{lit("app-"), expr("schema.spec.name"), lit("-svc")},
		},
		"MultipleExpressions": {
			reason: "Adjacent and separated expressions are all found in order.",
			in:     "${a}${b}:${c}",
			want:   []Segment{expr("a"), expr("b"), lit(":"), expr("c")},
		},
		"BalancedBraces": {
			reason: "Map literals inside an expression keep braces balanced.",
			in:     `${ {"a": 1}["a"] }`,
			want:   []Segment{expr(` {"a": 1}["a"] `)},
		},
		"NestedMapLiterals": {
			reason: "Deeply nested braces balance.",
			in:     `x${{"a": {"b": {}}}}y`,
			want:   []Segment{lit("x"), expr(`{"a": {"b": {}}}`), lit("y")},
		},
		"DollarBraceInDoubleQuotedLiteral": {
			reason: "${ inside a CEL string literal does not start an expression.",
			in:     `${"${VAR}"}`,
			want:   []Segment{expr(`"${VAR}"`)},
		},
		"BraceInSingleQuotedLiteral": {
			reason: "} inside a single-quoted literal does not end the expression.",
			in:     `${'}' + a}`,
			want:   []Segment{expr(`'}' + a`)},
		},
		"EscapedQuote": {
			reason: "A backslash-escaped quote does not end the string literal.",
			in:     `${"a\"}" + b}!`,
			want:   []Segment{expr(`"a\"}" + b`), lit("!")},
		},
		"EscapedBackslash": {
			reason: "An escaped backslash does not escape the closing quote.",
			in:     `${"a\\" + "}"}`,
			want:   []Segment{expr(`"a\\" + "}"`)},
		},
		"OtherQuoteInsideLiteral": {
			reason: "A quote of the other kind inside a literal is plain text.",
			in:     `${"it's }" + 'say "{"'}`,
			want:   []Segment{expr(`"it's }" + 'say "{"'`)},
		},
		"TripleQuoted": {
			reason: "Triple-quoted literals may contain single quotes and braces.",
			in:     `${'''it's a } and " '''}`,
			want:   []Segment{expr(`'''it's a } and " '''`)},
		},
		"TripleDoubleQuoted": {
			reason: "Triple double quotes may span lines.",
			in:     "${\"\"\"a\n\"}\"\n\"\"\"}",
			want:   []Segment{expr("\"\"\"a\n\"}\"\n\"\"\"")},
		},
		"EmptyStringLiteral": {
			reason: "An empty string literal is not a triple quote.",
			in:     `${"" + "}"}`,
			want:   []Segment{expr(`"" + "}"`)},
		},
		"RawString": {
			reason: "In a raw string a backslash does not escape the quote.",
			in:     `${r"\" + "}"}`,
			want:   []Segment{expr(`r"\" + "}"`)},
		},
		"RawBytesString": {
			reason: "The br prefix also makes a literal raw.",
			in:     `${br'\' + '}'}`,
			want:   []Segment{expr(`br'\' + '}'`)},
		},
		"IdentifierEndingInR": {
			reason: "An identifier ending in r before a quote is not a raw prefix.",
			in:     `${ var"\"}" }`,
			want:   []Segment{expr(` var"\"}" `)},
		},
		"Unicode": {
			reason: "Multi-byte text is preserved in literals, expressions and string literals.",
			in:     `héllo ${"wörld→}" + x} 世界`,
			want:   []Segment{lit("héllo "), expr(`"wörld→}" + x`), lit(" 世界")},
		},
		"ClosingBraceOutside": {
			reason: "A } outside any expression is literal text.",
			in:     "a}${b}}",
			want:   []Segment{lit("a}"), expr("b"), lit("}")},
		},
		"NestedExpression": {
			reason:  "A ${ inside an expression, outside a string literal, is an error.",
			in:      "${a + ${b}}",
			wantErr: "nested expression at offset 6",
		},
		"Unterminated": {
			reason:  "A ${ without a matching } is an error naming its offset.",
			in:      "abc ${a",
			wantErr: "unterminated expression at offset 4",
		},
		"UnterminatedBraces": {
			reason:  "Unbalanced braces leave the expression unterminated.",
			in:      "${ {'a': 1 }",
			wantErr: "unterminated expression at offset 0",
		},
		"UnterminatedStringLiteral": {
			reason:  "An unclosed string literal leaves the expression unterminated.",
			in:      `x ${"abc}`,
			wantErr: "unterminated expression at offset 2 (string literal at offset 4 is not closed)",
		},
		"EmptyExpression": {
			reason:  "${} is an error.",
			in:      "a${}b",
			wantErr: "empty expression at offset 1",
		},
		"WhitespaceExpression": {
			reason:  "An expression with only whitespace is empty.",
			in:      "${ \t }",
			wantErr: "empty expression at offset 0",
		},
		"SecondExpressionInvalid": {
			reason:  "An error in a later expression is reported with its offset.",
			in:      "${a} ${",
			wantErr: "unterminated expression at offset 5",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ParseString(tc.in)
			if tc.wantErr != "" {
				var se *SyntaxError
				if err == nil || !errors.As(err, &se) || err.Error() != tc.wantErr {
					t.Fatalf("%s\nParseString(%q): want error %q, got %v", tc.reason, tc.in, tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nParseString(%q): unexpected error: %v", tc.reason, tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nParseString(%q): -want, +got:\n%s", tc.reason, tc.in, diff)
			}
			if j := join(got); j != tc.in {
				t.Errorf("%s\njoin(ParseString(%q)) = %q", tc.reason, tc.in, j)
			}
		})
	}
}

func TestHasExpressions(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     string
		want   bool
	}{
		"None":      {reason: "Plain text has no opener.", in: "plain", want: false},
		"Dollar":    {reason: "A lone $ is not an opener.", in: "$x {y}", want: false},
		"Opener":    {reason: "An opener is found.", in: "a ${b}", want: true},
		"Malformed": {reason: "The check is only for the opener.", in: "${", want: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := HasExpressions(tc.in); got != tc.want {
				t.Errorf("%s\nHasExpressions(%q) = %v, want %v", tc.reason, tc.in, got, tc.want)
			}
		})
	}
}

func join(segs []Segment) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteString(s.String())
	}
	return b.String()
}
