package parser

import (
	"fmt"
	"strconv"
	"strings"
)

// PathElem is one step of a field path: a map key, or a list index when
// IsIndex is true.
type PathElem struct {
	Key     string
	Index   int
	IsIndex bool
}

// FormatPath renders elems in the path format produced by ParseTemplate:
// simple keys are joined with dots (spec.replicas), list indexes are written
// in brackets (containers[0]) and keys that are not simple identifiers are
// written as quoted strings in brackets (labels["app.kubernetes.io/name"]).
// A simple identifier is an ASCII letter or underscore followed by ASCII
// letters, digits, underscores or dashes. FormatPath(nil) is "".
func FormatPath(elems []PathElem) string {
	var b strings.Builder
	for i, e := range elems {
		b.WriteString(formatElem(e, i == 0))
	}
	return b.String()
}

// formatElem renders a single element; first is true for the leading
// element, which has no dot before a simple key.
func formatElem(e PathElem, first bool) string {
	switch {
	case e.IsIndex:
		return "[" + strconv.Itoa(e.Index) + "]"
	case isSimpleKey(e.Key) && first:
		return e.Key
	case isSimpleKey(e.Key):
		return "." + e.Key
	default:
		return "[" + strconv.Quote(e.Key) + "]"
	}
}

func isSimpleKey(k string) bool {
	if k == "" || !isKeyStart(k[0]) {
		return false
	}
	for i := 1; i < len(k); i++ {
		if !isIdentByte(k[i]) && k[i] != '-' {
			return false
		}
	}
	return true
}

func isKeyStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// ParsePath parses a path in the format produced by FormatPath and
// ParseTemplate. The empty path yields nil. Index values must be
// non-negative decimal integers; bracketed keys are Go-syntax double-quoted
// strings.
func ParsePath(path string) ([]PathElem, error) {
	var elems []PathElem
	for i := 0; i < len(path); {
		switch {
		case path[i] == '[':
			e, next, err := parseBracket(path, i)
			if err != nil {
				return nil, err
			}
			elems = append(elems, e)
			i = next
		case i == 0 || path[i] == '.':
			start := i
			if i > 0 {
				start++ // skip the dot
			}
			end := start
			for end < len(path) && path[end] != '.' && path[end] != '[' {
				end++
			}
			key := path[start:end]
			if !isSimpleKey(key) {
				return nil, fmt.Errorf("path %q: invalid key %q at offset %d", path, key, start)
			}
			elems = append(elems, PathElem{Key: key})
			i = end
		default:
			return nil, fmt.Errorf("path %q: unexpected %q at offset %d", path, path[i], i)
		}
	}
	return elems, nil
}

// parseBracket parses the bracketed element starting at path[open] and
// returns it with the index just past the closing bracket.
func parseBracket(path string, open int) (PathElem, int, error) {
	i := open + 1
	if i < len(path) && path[i] == '"' {
		end := i + 1
		for end < len(path) && path[end] != '"' {
			if path[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(path) {
			return PathElem{}, 0, fmt.Errorf("path %q: unterminated quoted key at offset %d", path, i)
		}
		key, err := strconv.Unquote(path[i : end+1])
		if err != nil {
			return PathElem{}, 0, fmt.Errorf("path %q: invalid quoted key at offset %d: %w", path, i, err)
		}
		if end+1 >= len(path) || path[end+1] != ']' {
			return PathElem{}, 0, fmt.Errorf("path %q: missing ']' at offset %d", path, end+1)
		}
		return PathElem{Key: key}, end + 2, nil
	}
	end := i
	for end < len(path) && '0' <= path[end] && path[end] <= '9' {
		end++
	}
	if end == i || end >= len(path) || path[end] != ']' {
		return PathElem{}, 0, fmt.Errorf("path %q: invalid index at offset %d", path, i)
	}
	n, err := strconv.Atoi(path[i:end])
	if err != nil {
		return PathElem{}, 0, fmt.Errorf("path %q: invalid index at offset %d: %w", path, i, err)
	}
	return PathElem{Index: n, IsIndex: true}, end + 1, nil
}
