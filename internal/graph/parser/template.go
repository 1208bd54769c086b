package parser

import (
	"fmt"
	"maps"
	"slices"
)

// Field is one string value in a template that holds expressions.
type Field struct {
	// Path addresses the value, e.g. spec.template.spec.containers[0].image;
	// keys that are not simple identifiers are written as ["key.with.dots"].
	// See FormatPath and ParsePath.
	Path string
	// Segments are the parts of the string, as returned by ParseString.
	Segments []Segment
	// Standalone is true when the string is exactly one expression with no
	// literal text: its result replaces the field and may be of any type.
	// Otherwise the field is a string template.
	Standalone bool
}

// Expressions returns the expression texts of the field in order.
func (f Field) Expressions() []string {
	var out []string
	for _, s := range f.Segments {
		if s.IsExpr() {
			out = append(out, s.Expr)
		}
	}
	return out
}

// ParseTemplate walks obj and returns every string value that holds at
// least one expression, in a deterministic order: map keys sorted, list
// elements by index, depth first. Map keys are not scanned. Values of
// other types (numbers, bools, nil) are ignored. Besides the generic
// map[string]interface{} and []interface{} produced by decoding, the
// common typed forms map[string]string, []string and
// []map[string]interface{} are walked too.
//
// The first malformed string stops the walk; the error names its path as
// in fmt.Errorf("field %q: %w", path, err).
func ParseTemplate(obj map[string]interface{}) ([]Field, error) {
	w := &walker{}
	if err := w.walk(obj); err != nil {
		return nil, err
	}
	return w.fields, nil
}

type walker struct {
	path   []PathElem
	fields []Field
}

func (w *walker) walk(v interface{}) error {
	switch v := v.(type) {
	case string:
		return w.visitString(v)
	case map[string]interface{}:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if err := w.child(PathElem{Key: k}, v[k]); err != nil {
				return err
			}
		}
	case map[string]string:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if err := w.child(PathElem{Key: k}, v[k]); err != nil {
				return err
			}
		}
	case []interface{}:
		return walkList(w, v)
	case []string:
		return walkList(w, v)
	case []map[string]interface{}:
		return walkList(w, v)
	}
	return nil
}

func walkList[T any](w *walker, list []T) error {
	for i, item := range list {
		if err := w.child(PathElem{Index: i, IsIndex: true}, item); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) child(e PathElem, v interface{}) error {
	w.path = append(w.path, e)
	err := w.walk(v)
	w.path = w.path[:len(w.path)-1]
	return err
}

func (w *walker) visitString(s string) error {
	if !HasExpressions(s) {
		return nil
	}
	path := FormatPath(w.path)
	segs, err := ParseString(s)
	if err != nil {
		return fmt.Errorf("field %q: %w", path, err)
	}
	w.fields = append(w.fields, Field{
		Path:       path,
		Segments:   segs,
		Standalone: len(segs) == 1 && segs[0].IsExpr(),
	})
	return nil
}
