package cel

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/cel-go/interpreter"

	"github.com/kro-run/kro/internal/metrics"
)

// ErrDataPending means an expression read data that does not exist yet (a missing key, field
// or index in an observed object); the caller waits for the next change instead of failing.
var ErrDataPending = errors.New("data pending")

// Eval runs the program against vars and returns a JSON-safe Go value (which may hold Omit).
// It never panics; a missing key or field wraps ErrDataPending, running past the cost limit
// wraps ErrCostLimitExceeded. Errors do not repeat the expression: callers name it along with
// the resource and field it belongs to.
func (p *Program) Eval(ctx context.Context, vars map[string]any) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("expression %q panicked: %v", p.Expression, r)
		}
	}()
	val, details, err := p.program.ContextEval(ctx, vars)
	var cost *uint64
	if details != nil {
		cost = details.ActualCost()
	}
	if err != nil {
		if isPending(err) {
			metrics.ObserveCELEvaluation(metrics.CELPending, cost)
			return nil, fmt.Errorf("%w: %v", ErrDataPending, err)
		}
		metrics.ObserveCELEvaluation(metrics.CELError, cost)
		var cancelled interpreter.EvalCancelledError
		if errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
			return nil, fmt.Errorf("evaluation ran past the cost limit of %d: %w", p.costLimit, ErrCostLimitExceeded)
		}
		return nil, err
	}
	metrics.ObserveCELEvaluation(metrics.CELSuccess, cost)
	return ToNative(val)
}

// EvalBool evaluates a boolean program.
func (p *Program) EvalBool(ctx context.Context, vars map[string]any) (bool, error) {
	v, err := p.Eval(ctx, vars)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("expression %q returned %T, expected bool", p.Expression, v)
	}
	return b, nil
}

// isPending reports whether an evaluation error comes from data not being there yet: a missing
// map key or field, or a list index past the end of a list. cel-go reports a missing list index
// as "index out of bounds: N" (attribute resolution) or "index 'N' out of range in list size
// 'M'" (list values). The ext strings library's "index out of range: N" (charAt, substring, ...)
// is a real error and deliberately not matched.
func isPending(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "no such key") ||
		strings.Contains(msg, "no such attribute") ||
		strings.Contains(msg, "index out of bounds") ||
		strings.Contains(msg, "out of range in list size")
}
