package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/kro-run/kro/internal/graph"
)

// Conditions evaluates the custom status conditions. builtins are kro's own conditions, which
// expressions read with runtime.condition(schema, type). Entries whose data is pending are
// left out (pending lists their indexes); other failures are joined into err after the
// conditions that could be computed.
func (r *Runtime) Conditions(ctx context.Context, builtins []any) (conds []map[string]any, pending []int, err error) {
	schema := map[string]any{}
	for k, v := range r.vars[graph.SchemaVariable].(map[string]any) {
		schema[k] = v
	}
	schema["status"] = map[string]any{"conditions": builtins}
	vars := make(map[string]any, len(r.vars))
	for k, v := range r.vars {
		vars[k] = v
	}
	vars[graph.SchemaVariable] = schema

	var errs []error
	for i, prg := range r.graph.Instance.Conditions {
		v, err := evalProgram(ctx, prg, vars)
		if errors.Is(err, ErrDataPending) {
			pending = append(pending, i)
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("status condition %d: %w", i, err))
			continue
		}
		got, err := asConditions(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("status condition %d: expression %q: %w", i, prg.Expression, err))
			continue
		}
		conds = append(conds, got...)
	}
	return conds, pending, errors.Join(errs...)
}

func asConditions(v any) ([]map[string]any, error) {
	switch val := v.(type) {
	case map[string]any:
		return []map[string]any{val}, nil
	case []any:
		out := make([]map[string]any, 0, len(val))
		for _, item := range val {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("list item is %T, expected a condition", item)
			}
			out = append(out, m)
		}
		return out, nil
	}
	return nil, fmt.Errorf("returned %T, expected a condition or a list of conditions", v)
}
