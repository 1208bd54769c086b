package runtime

import (
	"encoding/base64"

	kroschema "github.com/kro-run/kro/internal/graph/schema"
)

// decodeBytes returns v with the base64 strings at path decoded into []byte. Maps and lists on
// the path are copied, never modified: v may be an object of the informer cache.
func decodeBytes(v any, path []string) any {
	if len(path) == 0 {
		s, ok := v.(string)
		if !ok {
			return v
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return v
		}
		return b
	}
	head, rest := path[0], path[1:]
	switch val := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(val))
		for k, item := range val {
			if head == kroschema.AnyElem || head == k {
				item = decodeBytes(item, rest)
			}
			out[k] = item
		}
		return out
	case []any:
		if head != kroschema.AnyElem {
			return v
		}
		out := make([]any, len(val))
		for i, item := range val {
			out[i] = decodeBytes(item, rest)
		}
		return out
	}
	return v
}
