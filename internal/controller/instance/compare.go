package instance

import (
	"encoding/base64"
	"maps"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// upToDate reports whether applying desired to live would change nothing: every field of
// desired, as the API server stores it (asStored), has its value in live.
func upToDate(gvk schema.GroupVersionKind, desired, live map[string]any) bool {
	return isSubset(asStored(gvk, desired), live)
}

// asStored is desired with its write-only fields turned into what the API server stores: a
// core Secret's stringData is written into data, base64-encoded, over data of the same key.
// desired itself is not changed.
func asStored(gvk schema.GroupVersionKind, desired map[string]any) map[string]any {
	stringData, ok := desired["stringData"].(map[string]any)
	if !ok || gvk.Group != "" || gvk.Kind != "Secret" {
		return desired
	}
	stored := maps.Clone(desired)
	delete(stored, "stringData")
	data, _ := desired["data"].(map[string]any)
	data = maps.Clone(data)
	if data == nil {
		data = make(map[string]any, len(stringData))
	}
	for k, v := range stringData {
		if s, ok := v.(string); ok {
			data[k] = base64.StdEncoding.EncodeToString([]byte(s))
		}
	}
	stored["data"] = data
	return stored
}

// isSubset reports whether every field of desired has the same value in live, so applying
// desired would change nothing. Lists must match element by element.
func isSubset(desired, live any) bool {
	switch d := desired.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, dv := range d {
			lv, ok := l[k]
			if !ok {
				// The API server drops null and empty values; they match an absent field.
				if isEmpty(dv) {
					continue
				}
				return false
			}
			if !isSubset(dv, lv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(d) {
			return false
		}
		for i := range d {
			if !isSubset(d[i], l[i]) {
				return false
			}
		}
		return true
	case int64:
		switch l := live.(type) {
		case int64:
			return d == l
		case float64:
			return float64(d) == l
		}
		return false
	case float64:
		switch l := live.(type) {
		case int64:
			return d == float64(l)
		case float64:
			return d == l
		}
		return false
	}
	return equality.Semantic.DeepEqual(desired, live)
}

func isEmpty(v any) bool {
	switch val := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(val) == 0
	case []any:
		return len(val) == 0
	}
	return false
}

// mergePatchOf returns the JSON merge patch (RFC 7386) that turns from into to, both decoded
// JSON objects: the keys whose values changed or are new, null for the keys removed, nested
// objects patched key by key. It is what CreateMergePatch of their JSON gives, without encoding
// and parsing both.
func mergePatchOf(from, to map[string]any) map[string]any {
	patch := map[string]any{}
	for k, tv := range to {
		fv, had := from[k]
		if tm, ok := tv.(map[string]any); ok {
			if fm, ok := fv.(map[string]any); ok && had {
				if sub := mergePatchOf(fm, tm); len(sub) > 0 {
					patch[k] = sub
				}
				continue
			}
		}
		if !had || !equality.Semantic.DeepEqual(fv, tv) {
			patch[k] = tv
		}
	}
	for k := range from {
		if _, ok := to[k]; !ok {
			patch[k] = nil
		}
	}
	return patch
}
