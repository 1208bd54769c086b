package parser

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func FuzzParseString(f *testing.F) {
	for _, s := range []string{
		"", "plain", "$", "${", "}", "${}", "${a}", "a${b}c${d}", `${"${VAR}"}`,
		`${ {"a": 1}["a"] }`, `${'''x'''}`, `${r"\"}`, `${"\"}"}`, "${a${b}}", "héllo ${x} 世界",
		`${b"}"}`, `${""""}`, "$${a}}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		segs, err := ParseString(s)
		if err != nil {
			if !HasExpressions(s) {
				t.Fatalf("ParseString(%q): error without ${: %v", s, err)
			}
			return
		}
		if got := join(segs); got != s {
			t.Fatalf("ParseString(%q): segments re-join to %q", s, got)
		}
		for i, seg := range segs {
			if !seg.IsExpr() && seg.Literal == "" {
				t.Fatalf("ParseString(%q): empty literal segment %d", s, i)
			}
			if seg.IsExpr() && seg.Literal != "" {
				t.Fatalf("ParseString(%q): segment %d has both literal and expression", s, i)
			}
			if i > 0 && !seg.IsExpr() && !segs[i-1].IsExpr() {
				t.Fatalf("ParseString(%q): adjacent literal segments at %d", s, i)
			}
		}
		if HasExpressions(s) != hasExpr(segs) {
			t.Fatalf("ParseString(%q): HasExpressions disagrees with segments %v", s, segs)
		}
	})
}

func hasExpr(segs []Segment) bool {
	for _, s := range segs {
		if s.IsExpr() {
			return true
		}
	}
	return false
}

// FuzzParsePath checks both directions of the round trip: any path that
// parses re-formats to a path that parses to the same elements, and any
// elements (built from arbitrary keys) format to a path that parses back.
func FuzzParsePath(f *testing.F) {
	f.Add("spec.containers[0].image", "app.kubernetes.io/name", 3)
	f.Add(`["a b"].c[1][2]`, "", 0)
	f.Add("", "simple", 10)
	f.Add(`x["\xff\n\""]`, "\x00é]\"[", 1<<40)
	f.Fuzz(func(t *testing.T, path, k string, i int) {
		if elems, err := ParsePath(path); err == nil {
			again, err := ParsePath(FormatPath(elems))
			if err != nil {
				t.Fatalf("ParsePath(FormatPath(ParsePath(%q))): %v", path, err)
			}
			if diff := cmp.Diff(elems, again); diff != "" {
				t.Fatalf("ParsePath(%q) round trip: -want, +got:\n%s", path, diff)
			}
		}
		if i < 0 {
			i = -(i + 1)
		}
		elems := []PathElem{{Key: k}, {Index: i, IsIndex: true}, {Key: k}, {Key: "x"}}
		formatted := FormatPath(elems)
		got, err := ParsePath(formatted)
		if err != nil {
			t.Fatalf("ParsePath(%q): %v", formatted, err)
		}
		if diff := cmp.Diff(elems, got); diff != "" {
			t.Fatalf("ParsePath(%q): -want, +got:\n%s", formatted, diff)
		}
	})
}
