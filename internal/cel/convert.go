package cel

import (
	"encoding/base64"
	"fmt"
	"math"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// ToNative converts a CEL value into the Go values of decoded JSON: nil, bool, int64, float64,
// string, []any and map[string]any. Bytes become base64 strings, durations and timestamps
// their string forms; an empty optional becomes nil; omit() becomes Omit (see IsOmit, PruneOmit).
func ToNative(v ref.Val) (any, error) {
	switch val := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(val), nil
	case types.Int:
		return int64(val), nil
	case types.Uint:
		if uint64(val) > math.MaxInt64 {
			return nil, fmt.Errorf("uint %d overflows int64", uint64(val))
		}
		return int64(val), nil
	case types.Double:
		return float64(val), nil
	case types.String:
		return string(val), nil
	case types.Bytes:
		return base64.StdEncoding.EncodeToString(val), nil
	case types.Duration:
		return val.Duration.String(), nil
	case types.Timestamp:
		return val.Time.UTC().Format(time.RFC3339), nil
	case *types.Err:
		return nil, val
	case omitValue:
		return Omit, nil
	case *types.Optional:
		if !val.HasValue() {
			return nil, nil
		}
		return ToNative(val.GetValue())
	case traits.Mapper:
		out := map[string]any{}
		it := val.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			ks, ok := k.(types.String)
			if !ok {
				return nil, fmt.Errorf("map key %v is %s, expected string", k, k.Type())
			}
			item, err := ToNative(val.Get(k))
			if err != nil {
				return nil, err
			}
			out[string(ks)] = item
		}
		return out, nil
	case traits.Lister:
		n, ok := val.Size().(types.Int)
		if !ok {
			return nil, fmt.Errorf("list without a size")
		}
		out := make([]any, 0, int(n))
		it := val.Iterator()
		for it.HasNext() == types.True {
			item, err := ToNative(it.Next())
			if err != nil {
				return nil, err
			}
			out = append(out, item)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported CEL value of type %s", v.Type())
}
