package simpleschema

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMarkers(t *testing.T) {
	cases := map[string]struct {
		in      string
		want    []marker
		wantErr string
	}{
		"empty":      {in: ""},
		"whitespace": {in: " \t "},
		"bare required": {
			in:   "required",
			want: []marker{{key: "required"}},
		},
		"several": {
			in: "required=true  default=3\tminimum=1",
			want: []marker{
				{key: "required", value: "true", hasValue: true},
				{key: "default", value: "3", hasValue: true},
				{key: "minimum", value: "1", hasValue: true},
			},
		},
		"quoted with spaces": {
			in:   `description="a b  c" required`,
			want: []marker{{key: "description", value: "a b  c", hasValue: true}, {key: "required"}},
		},
		"quoted escapes": {
			in:   `description="say \"hi\" \\ there"`,
			want: []marker{{key: "description", value: `say "hi" \ there`, hasValue: true}},
		},
		"other backslashes kept": {
			in:   `pattern="^\d+\.\w$"`,
			want: []marker{{key: "pattern", value: `^\d+\.\w$`, hasValue: true}},
		},
		"empty quoted": {
			in:   `default=""`,
			want: []marker{{key: "default", value: "", hasValue: true}},
		},
		"quoted pipe and equals": {
			in:   `validation="a == b || c"`,
			want: []marker{{key: "validation", value: "a == b || c", hasValue: true}},
		},
		"bracketed array": {
			in:   `default=["a b", "c]"] required`,
			want: []marker{{key: "default", value: `["a b", "c]"]`, hasValue: true}, {key: "required"}},
		},
		"bracketed object": {
			in:   `default={"a": {"b": [1, 2]}, "c": "}"}`,
			want: []marker{{key: "default", value: `{"a": {"b": [1, 2]}, "c": "}"}`, hasValue: true}},
		},
		"bracket with escaped quote": {
			in:   `default=["a\"]"]`,
			want: []marker{{key: "default", value: `["a\"]"]`, hasValue: true}},
		},
		"bracket followed by text": {
			in:   `pattern=[a-z]+$ minLength=1`,
			want: []marker{{key: "pattern", value: `[a-z]+$`, hasValue: true}, {key: "minLength", value: "1", hasValue: true}},
		},
		"bare value with quote chars inside": {
			in:   `default=a"b`,
			want: []marker{{key: "default", value: `a"b`, hasValue: true}},
		},
		"repeated key is kept": {
			in: "listMapKey=a listMapKey=b",
			want: []marker{
				{key: "listMapKey", value: "a", hasValue: true},
				{key: "listMapKey", value: "b", hasValue: true},
			},
		},
		"unclosed quote":           {in: `description="oops`, wantErr: `marker "description": unclosed quote`},
		"escaped final quote":      {in: `description="oops\"`, wantErr: `marker "description": unclosed quote`},
		"text after quote":         {in: `description="a"b`, wantErr: `unexpected character 'b' after closing quote`},
		"unclosed bracket":         {in: `default=[1, 2`, wantErr: `marker "default": unclosed bracket '['`},
		"unclosed nested bracket":  {in: `default={"a": [1}`, wantErr: `mismatched bracket '}'`},
		"unclosed string in array": {in: `default=["a]`, wantErr: "unclosed quote inside bracketed value"},
		"missing value":            {in: "minimum=", wantErr: `marker "minimum": missing value`},
		"missing value then more":  {in: "minimum= maximum=1", wantErr: `marker "minimum": missing value`},
		"missing name":             {in: "=1", wantErr: "missing marker name"},
		"invalid name":             {in: `"quoted"=1`, wantErr: `marker "\"quoted\"": invalid marker name`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseMarkers(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseMarkers(%q) error = %v, want containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseMarkers(%q): unexpected error: %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(marker{})); diff != "" {
				t.Errorf("parseMarkers(%q): -want, +got:\n%s", tc.in, diff)
			}
		})
	}
}

func TestParseDefault(t *testing.T) {
	cases := map[string]struct {
		typ, in string
		want    string
		wantErr string
	}{
		"integer":              {typ: "integer", in: "42", want: "42"},
		"integer plus sign":    {typ: "integer", in: "+7", want: "7"},
		"integer invalid":      {typ: "integer", in: "4.2", wantErr: `invalid integer "4.2"`},
		"float":                {typ: "number", in: "1.50", want: "1.5"},
		"float from int":       {typ: "number", in: "3", want: "3"},
		"float infinite":       {typ: "number", in: "Inf", wantErr: `invalid number "Inf"`},
		"float overflow":       {typ: "number", in: "1e999", wantErr: `invalid number "1e999"`},
		"boolean":              {typ: "boolean", in: "true", want: "true"},
		"boolean invalid":      {typ: "boolean", in: "True", wantErr: `invalid boolean "True"`},
		"string":               {typ: "string", in: `a "b" <c>`, want: `"a \"b\" <c>"`},
		"string empty":         {typ: "string", in: "", want: `""`},
		"array":                {typ: "array", in: `[ 1, "x" ]`, want: `[1,"x"]`},
		"array big int":        {typ: "array", in: `[12345678901234567890]`, want: `[12345678901234567890]`},
		"object sorted keys":   {typ: "object", in: `{"b": 1, "a": [true]}`, want: `{"a":[true],"b":1}`},
		"object wrong shape":   {typ: "object", in: `[1]`, wantErr: "expected a JSON object"},
		"array wrong shape":    {typ: "array", in: `{}`, wantErr: "expected a JSON array"},
		"array scalar":         {typ: "array", in: `1`, wantErr: "expected a JSON array"},
		"invalid json":         {typ: "array", in: `[1,]`, wantErr: "invalid JSON"},
		"trailing json":        {typ: "object", in: `{} {}`, wantErr: "trailing data"},
		"object not json text": {typ: "object", in: `abc`, wantErr: "invalid JSON"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseDefault(tc.typ, tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseDefault(%q, %q) error = %v, want containing %q", tc.typ, tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseDefault(%q, %q): unexpected error: %v", tc.typ, tc.in, err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("parseDefault(%q, %q): -want, +got:\n%s", tc.typ, tc.in, diff)
			}
		})
	}
}
