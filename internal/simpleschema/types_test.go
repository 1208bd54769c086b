package simpleschema

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTypeExpr(t *testing.T) {
	cases := map[string]struct {
		in      string
		want    string // rendered with typeExpr.String
		refs    []string
		wantErr string
	}{
		"string":                  {in: "string", want: "string"},
		"integer":                 {in: "integer", want: "integer"},
		"boolean":                 {in: "boolean", want: "boolean"},
		"float":                   {in: "float", want: "float"},
		"object":                  {in: "object", want: "object"},
		"surrounding whitespace":  {in: "  string ", want: "string"},
		"array":                   {in: "[]string", want: "[]string"},
		"nested array":            {in: "[][]integer", want: "[][]integer"},
		"map":                     {in: "map[string]string", want: "map[string]string"},
		"map key whitespace":      {in: "map[ string ] integer", want: "map[string]integer"},
		"map of arrays":           {in: "map[string][]string", want: "map[string][]string"},
		"array of maps of custom": {in: "[]map[string]Person", want: "[]map[string]Person", refs: []string{"Person"}},
		"custom":                  {in: "My_Type2", want: "My_Type2", refs: []string{"My_Type2"}},
		"max depth":               {in: strings.Repeat("[]", maxTypeDepth) + "string", want: strings.Repeat("[]", maxTypeDepth) + "string"},
		"too deep":                {in: strings.Repeat("[]", maxTypeDepth+1) + "string", wantErr: "nesting exceeds maximum depth of 16"},
		"too deep maps":           {in: strings.Repeat("map[string]", maxTypeDepth+1) + "string", wantErr: "nesting exceeds maximum depth of 16"},
		"empty":                   {in: "  ", wantErr: "missing type"},
		"missing element":         {in: "[]", wantErr: `invalid type "[]": missing element type`},
		"missing map value":       {in: "map[string]", wantErr: `invalid type "map[string]": missing element type`},
		"non-string map key":      {in: "map[int]string", wantErr: `map key type must be string, got "int"`},
		"unclosed map":            {in: "map[string", wantErr: "missing closing ']'"},
		"space in name":           {in: "str ing", wantErr: `invalid type "str ing"`},
		"leading digit":           {in: "1Type", wantErr: `invalid type "1Type"`},
		"punctuation":             {in: "a.b", wantErr: `invalid type "a.b"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseTypeExpr(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseTypeExpr(%q) error = %v, want containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseTypeExpr(%q): unexpected error: %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got.String()); diff != "" {
				t.Errorf("parseTypeExpr(%q): -want, +got:\n%s", tc.in, diff)
			}
			if diff := cmp.Diff(tc.refs, got.customRefs(nil)); diff != "" {
				t.Errorf("parseTypeExpr(%q).customRefs: -want, +got:\n%s", tc.in, diff)
			}
		})
	}
}

func TestSplitDefinition(t *testing.T) {
	cases := map[string]struct {
		in                string
		wantType, wantMrk string
	}{
		"type only":        {in: "string", wantType: "string"},
		"spaced":           {in: "string | required", wantType: "string", wantMrk: "required"},
		"tight":            {in: "integer|default=1", wantType: "integer", wantMrk: "default=1"},
		"pipe in marker":   {in: `string | pattern="a|b"`, wantType: "string", wantMrk: `pattern="a|b"`},
		"trailing pipe":    {in: "string |", wantType: "string"},
		"leading space ok": {in: "  []string  |  minItems=1 ", wantType: "[]string", wantMrk: "minItems=1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			typ, mrk := splitDefinition(tc.in)
			if diff := cmp.Diff([]string{tc.wantType, tc.wantMrk}, []string{typ, mrk}); diff != "" {
				t.Errorf("splitDefinition(%q): -want, +got:\n%s", tc.in, diff)
			}
		})
	}
}
