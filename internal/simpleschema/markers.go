package simpleschema

import (
	"fmt"
	"strings"
)

// marker is one parsed `key=value` (or bare `key`) marker.
type marker struct {
	key string
	// value is the unquoted value. For bracketed values ([..] or {..}) it is
	// the raw text including the brackets.
	value string
	// hasValue is false for bare markers such as `required`.
	hasValue bool
}

// splitDefinition splits a field definition "<type> | <markers>" into its type
// and marker parts. Type expressions never contain '|', so the first '|' is the
// separator; marker values may contain further '|' characters.
func splitDefinition(def string) (typePart, markerPart string) {
	typePart, markerPart, _ = strings.Cut(def, "|")
	return strings.TrimSpace(typePart), strings.TrimSpace(markerPart)
}

// parseMarkers tokenises a space separated marker list. Values may be bare
// (up to the next whitespace), double-quoted (supporting \" and \\ escapes;
// any other backslash is kept literally) or bracketed with balanced [..] / {..}
// (which may contain spaces and quoted strings).
func parseMarkers(s string) ([]marker, error) {
	var out []marker
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		start := i
		for i < len(s) && !isSpace(s[i]) && s[i] != '=' {
			i++
		}
		key := s[start:i]
		if key == "" {
			return nil, fmt.Errorf("missing marker name before '=' at offset %d", start)
		}
		if !isMarkerName(key) {
			return nil, fmt.Errorf("marker %q: invalid marker name", key)
		}
		if i >= len(s) || s[i] != '=' {
			out = append(out, marker{key: key})
			continue
		}
		i++ // skip '='
		if i >= len(s) || isSpace(s[i]) {
			return nil, fmt.Errorf("marker %q: missing value", key)
		}
		var (
			value string
			err   error
		)
		switch s[i] {
		case '"':
			value, i, err = readQuoted(s, i)
		case '[', '{':
			value, i, err = readBracketed(s, i)
		default:
			start := i
			for i < len(s) && !isSpace(s[i]) {
				i++
			}
			value = s[start:i]
		}
		if err != nil {
			return nil, fmt.Errorf("marker %q: %w", key, err)
		}
		out = append(out, marker{key: key, value: value, hasValue: true})
	}
}

// readQuoted reads a double-quoted value starting at s[i] == '"'. It returns
// the unescaped value and the index just past the closing quote.
func readQuoted(s string, i int) (string, int, error) {
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; c {
		case '\\':
			if j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
				b.WriteByte(s[j+1])
				j++
				continue
			}
			b.WriteByte(c)
		case '"':
			if j+1 < len(s) && !isSpace(s[j+1]) {
				return "", 0, fmt.Errorf("unexpected character %q after closing quote", s[j+1])
			}
			return b.String(), j + 1, nil
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unclosed quote")
}

// readBracketed reads a balanced [..] or {..} value starting at s[i]. Quoted
// strings inside are skipped so brackets within them do not count. Any
// non-space characters directly following the closing bracket are kept as
// part of the value (so `pattern=[a-z]+` works).
func readBracketed(s string, i int) (string, int, error) {
	start := i
	var stack []byte
	j := i
	for ; j < len(s); j++ {
		c := s[j]
		switch c {
		case '[', '{':
			stack = append(stack, c)
		case ']', '}':
			open := byte('[')
			if c == '}' {
				open = '{'
			}
			if stack[len(stack)-1] != open {
				return "", 0, fmt.Errorf("mismatched bracket %q", c)
			}
			stack = stack[:len(stack)-1]
		case '"':
			end, err := skipJSONString(s, j)
			if err != nil {
				return "", 0, err
			}
			j = end
		}
		if len(stack) == 0 {
			break
		}
	}
	if len(stack) != 0 {
		return "", 0, fmt.Errorf("unclosed bracket %q", stack[len(stack)-1])
	}
	j++
	for j < len(s) && !isSpace(s[j]) {
		j++
	}
	return s[start:j], j, nil
}

// skipJSONString returns the index of the closing quote of the string that
// starts at s[i] == '"', honouring backslash escapes.
func skipJSONString(s string, i int) (int, error) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j, nil
		}
	}
	return 0, fmt.Errorf("unclosed quote inside bracketed value")
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// isMarkerName reports whether s looks like a marker name (ASCII letters and
// digits, starting with a letter).
func isMarkerName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}
