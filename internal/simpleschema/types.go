package simpleschema

import (
	"fmt"
	"strings"
)

// maxTypeDepth is the maximum number of nested array/map levels accepted in a
// single type expression (e.g. "[][]integer" has depth 2).
const maxTypeDepth = 16

// typeKind classifies a parsed type expression.
type typeKind int

const (
	// kindBuiltin is one of string, integer, boolean, float or object.
	kindBuiltin typeKind = iota
	// kindArray is []T.
	kindArray
	// kindMap is map[string]T.
	kindMap
	// kindCustom refers to a type declared in the `types` block.
	kindCustom
)

// typeExpr is a parsed SimpleSchema type expression.
type typeExpr struct {
	kind typeKind
	// name is the OpenAPI type ("string", "integer", "boolean", "number",
	// "object") for builtins, or the custom type name for kindCustom.
	name string
	// elem is the element type for arrays and the value type for maps.
	elem *typeExpr
}

// String renders the expression back in SimpleSchema notation.
func (t *typeExpr) String() string {
	if t == nil {
		return ""
	}
	switch t.kind {
	case kindArray:
		return "[]" + t.elem.String()
	case kindMap:
		return "map[string]" + t.elem.String()
	case kindBuiltin:
		if t.name == "number" {
			return "float"
		}
		return t.name
	default:
		return t.name
	}
}

// builtinOpenAPIType maps a SimpleSchema builtin type name to its OpenAPI type.
func builtinOpenAPIType(name string) (string, bool) {
	switch name {
	case "string", "integer", "boolean", "object":
		return name, true
	case "float":
		return "number", true
	}
	return "", false
}

// parseTypeExpr parses a SimpleSchema type expression such as
// "map[string][]Person". Custom type names are returned unresolved.
func parseTypeExpr(s string) (*typeExpr, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("missing type")
	}
	return parseTypeAt(s, s, 0)
}

func parseTypeAt(full, s string, depth int) (*typeExpr, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("invalid type %q: missing element type", full)
	}
	switch {
	case strings.HasPrefix(s, "[]"):
		if depth >= maxTypeDepth {
			return nil, fmt.Errorf("invalid type %q: nesting exceeds maximum depth of %d", full, maxTypeDepth)
		}
		elem, err := parseTypeAt(full, s[2:], depth+1)
		if err != nil {
			return nil, err
		}
		return &typeExpr{kind: kindArray, elem: elem}, nil
	case strings.HasPrefix(s, "map["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return nil, fmt.Errorf("invalid type %q: missing closing ']' in map type", full)
		}
		if key := strings.TrimSpace(s[len("map["):end]); key != "string" {
			return nil, fmt.Errorf("invalid type %q: map key type must be string, got %q", full, key)
		}
		if depth >= maxTypeDepth {
			return nil, fmt.Errorf("invalid type %q: nesting exceeds maximum depth of %d", full, maxTypeDepth)
		}
		elem, err := parseTypeAt(full, s[end+1:], depth+1)
		if err != nil {
			return nil, err
		}
		return &typeExpr{kind: kindMap, elem: elem}, nil
	}
	if t, ok := builtinOpenAPIType(s); ok {
		return &typeExpr{kind: kindBuiltin, name: t}, nil
	}
	if isIdentifier(s) {
		return &typeExpr{kind: kindCustom, name: s}, nil
	}
	return nil, fmt.Errorf("invalid type %q", full)
}

// customRefs appends the custom type names referenced by t to dst.
func (t *typeExpr) customRefs(dst []string) []string {
	for cur := t; cur != nil; cur = cur.elem {
		if cur.kind == kindCustom {
			dst = append(dst, cur.name)
		}
	}
	return dst
}

// isIdentifier reports whether s is a valid custom type name: a letter or
// underscore followed by letters, digits or underscores.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}
