package parser

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func key(k string) PathElem { return PathElem{Key: k} }
func idx(i int) PathElem    { return PathElem{Index: i, IsIndex: true} }

func TestParsePath(t *testing.T) {
	cases := map[string]struct {
		reason  string
		in      string
		want    []PathElem
		wantErr bool
	}{
		"Empty":      {reason: "The empty path has no elements.", in: "", want: nil},
		"Single":     {reason: "A single key.", in: "spec", want: []PathElem{key("spec")}},
		"DottedKeys": {reason: "Keys joined by dots.", in: "spec.replicas", want: []PathElem{key("spec"), key("replicas")}},
		"Indexes": {
			reason: "Indexes follow keys and other indexes.",
			in:     "spec.containers[0].args[12][3]",
			want:   []PathElem{key("spec"), key("containers"), idx(0), key("args"), idx(12), idx(3)},
		},
		"QuotedKey": {
			reason: "Keys that are not identifiers are quoted in brackets.",
			in:     `metadata.labels["app.kubernetes.io/name"].x`,
			want:   []PathElem{key("metadata"), key("labels"), key("app.kubernetes.io/name"), key("x")},
		},
		"LeadingQuotedKey": {reason: "A path may start with a quoted key.", in: `["a]b\"c"]`, want: []PathElem{key(`a]b"c`)}},
		"DashKey":          {reason: "Dashes are allowed in simple keys.", in: "my-key_2", want: []PathElem{key("my-key_2")}},
		"LeadingDot":       {reason: "A leading dot is invalid.", in: ".spec", wantErr: true},
		"DoubleDot":        {reason: "An empty key is invalid.", in: "a..b", wantErr: true},
		"TrailingDot":      {reason: "A trailing dot is invalid.", in: "a.", wantErr: true},
		"BadKey":           {reason: "Unquoted keys must be identifiers.", in: "a.b/c", wantErr: true},
		"NegativeIndex":    {reason: "Indexes are non-negative.", in: "a[-1]", wantErr: true},
		"EmptyIndex":       {reason: "Indexes are not empty.", in: "a[]", wantErr: true},
		"Unclosed":         {reason: "Brackets close.", in: "a[1", wantErr: true},
		"UnclosedQuote":    {reason: "Quoted keys close.", in: `a["b`, wantErr: true},
		"MissingBracket":   {reason: "Quoted keys are followed by ].", in: `a["b"`, wantErr: true},
		"Overflow":         {reason: "Indexes fit in an int.", in: "a[99999999999999999999999]", wantErr: true},
		"JunkAfterIndex":   {reason: "Only . or [ follow an element.", in: "a[0]b", wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ParsePath(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("%s\nParsePath(%q): want error, got %v", tc.reason, tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nParsePath(%q): unexpected error: %v", tc.reason, tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nParsePath(%q): -want, +got:\n%s", tc.reason, tc.in, diff)
			}
			if s := FormatPath(got); s != tc.in {
				t.Errorf("%s\nFormatPath(ParsePath(%q)) = %q", tc.reason, tc.in, s)
			}
		})
	}
}
