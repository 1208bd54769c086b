package cel

import (
	"errors"
	"fmt"
	"math"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"
	k8slib "k8s.io/apiserver/pkg/cel/library"
)

// Static cost defaults.
const (
	// DefaultStaticCostLimit is the estimated worst-case cost above which a program gets a
	// Warning under DefaultLimits. The estimate assumes every input of unknown size is
	// DefaultMaxInputSize large, which real data rarely is, so the warning points at
	// expressions that are expensive on any large input (three comprehensions nested over data
	// of unknown size, a sort of a long list); two nested comprehensions pass quietly.
	DefaultStaticCostLimit uint64 = 100 * DefaultCostLimit
	// DefaultMaxInputSize is the size (characters of a string, items of a list, entries of a
	// map) the static estimate assumes for data whose size the environment does not know.
	DefaultMaxInputSize uint64 = 1024
)

// ErrCostLimitExceeded means an expression is too expensive: either it costs more than the
// runtime limit on every input (reported by CompileWithLimits) or an evaluation ran past the
// runtime limit (reported by Eval).
var ErrCostLimitExceeded = errors.New("cost limit exceeded")

// Limits bounds the cost of a compiled program.
//
// The runtime limit is the real bound: an evaluation that runs past it fails. The static
// estimate only refuses an expression that no input could make affordable (its minimum cost
// is above the runtime limit) and otherwise, when its worst case is above StaticCostLimit,
// leaves a Warning on the program: the reference kro accepts such expressions, and on the
// small inputs they usually see they are cheap.
type Limits struct {
	// CostLimit bounds the runtime cost of one evaluation. Zero means DefaultCostLimit.
	CostLimit uint64
	// StaticCostLimit sets Program.Warning on an expression whose worst-case estimated cost
	// exceeds it. Zero (the default) disables the warning.
	StaticCostLimit uint64
	// MaxInputSize is the size the static estimate assumes for data of unknown size. Zero
	// means DefaultMaxInputSize.
	MaxInputSize uint64
}

// DefaultLimits are the runtime limit, a warning above DefaultStaticCostLimit and the default
// input size assumption.
func DefaultLimits() Limits {
	return Limits{
		CostLimit:       DefaultCostLimit,
		StaticCostLimit: DefaultStaticCostLimit,
		MaxInputSize:    DefaultMaxInputSize,
	}
}

func (l Limits) withDefaults() Limits {
	if l.CostLimit == 0 {
		l.CostLimit = DefaultCostLimit
	}
	if l.MaxInputSize == 0 {
		l.MaxInputSize = DefaultMaxInputSize
	}
	return l
}

// CostEstimate is the static cost range of a checked expression.
type CostEstimate struct {
	Min, Max uint64
}

// EstimateCost returns the static cost range of a checked expression, assuming data of unknown
// size is at most maxInputSize large (zero means DefaultMaxInputSize). kro's and the
// Kubernetes libraries' functions are costed by their own estimators.
func EstimateCost(env *cel.Env, checked *cel.Ast, maxInputSize uint64) (est CostEstimate, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("estimating cost: %v", r)
		}
	}()
	if maxInputSize == 0 {
		maxInputSize = DefaultMaxInputSize
	}
	e := &sizeEstimator{maxSize: maxInputSize}
	e.k8s = &k8slib.CostEstimator{SizeEstimator: e}
	c, err := env.EstimateCost(checked, e)
	if err != nil {
		return CostEstimate{}, fmt.Errorf("estimating cost: %w", err)
	}
	return CostEstimate{Min: c.Min, Max: c.Max}, nil
}

// sizeEstimator assumes every variable-length value of unknown size holds at most maxSize
// elements and delegates function costs to the Kubernetes libraries' estimator.
type sizeEstimator struct {
	maxSize uint64
	k8s     *k8slib.CostEstimator
}

func (e *sizeEstimator) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	if n.Type() == nil {
		return nil
	}
	switch n.Type().Kind() {
	case types.StringKind, types.BytesKind, types.ListKind, types.MapKind, types.DynKind, types.StructKind, types.AnyKind:
		return &checker.SizeEstimate{Min: 0, Max: e.maxSize}
	}
	return nil
}

func (e *sizeEstimator) EstimateCallCost(function, overloadID string, target *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
	return e.k8s.EstimateCallCost(function, overloadID, target, args)
}

// Cost model of kro's functions, in cel-go's units: a call costs 1, traversing a string or
// bytes costs 0.1 per byte, visiting an element of a list or map costs 1, building a list or
// map costs the base costs cel-go charges for literals.
const (
	callCost            = 1
	traversalCostFactor = common.StringTraversalCostFactor
	elementCostFactor   = 1.0
)

// overloadCost is the static estimator and the runtime tracker of one overload; a library
// registers them with costEnvOption (CompileOptions) and costProgramOption (ProgramOptions).
type overloadCost struct {
	estimate checker.FunctionEstimator
	track    interpreter.FunctionTracker
}

func costEnvOption(costs map[string]overloadCost) cel.EnvOption {
	opts := make([]checker.CostOption, 0, len(costs))
	for id, c := range costs {
		opts = append(opts, checker.OverloadCostEstimate(id, c.estimate))
	}
	return cel.CostEstimatorOptions(opts...)
}

func costProgramOption(costs map[string]overloadCost) cel.ProgramOption {
	opts := make([]interpreter.CostTrackerOption, 0, len(costs))
	for id, c := range costs {
		opts = append(opts, interpreter.OverloadCostTracker(id, c.track))
	}
	return cel.CostTrackerOptions(opts...)
}

// linearCost charges callCost plus base plus factor times the summed sizes of the arguments
// at the given indexes (the receiver of a member function is index 0 at runtime and the
// target statically; indexes count it first in both).
func linearCost(base uint64, factor float64, argIdx ...int) overloadCost {
	return overloadCost{
		estimate: func(est checker.CostEstimator, target *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
			all := args
			if target != nil {
				all = append([]checker.AstNode{*target}, args...)
			}
			var sum checker.SizeEstimate
			for _, i := range argIdx {
				if i >= len(all) {
					return nil
				}
				sum = sum.Add(nodeSize(est, all[i]))
			}
			cost := sum.MultiplyByCostFactor(factor).Add(checker.FixedCostEstimate(callCost + base))
			return &checker.CallEstimate{CostEstimate: cost}
		},
		track: func(args []ref.Val, _ ref.Val) *uint64 {
			var sum uint64
			for _, i := range argIdx {
				if i < len(args) {
					sum = addSat(sum, valueSize(args[i]))
				}
			}
			c := addSat(callCost+base, uint64(math.Ceil(float64(sum)*factor)))
			return &c
		},
	}
}

// fixedCost charges the same cost for every call.
func fixedCost(c uint64) overloadCost {
	return overloadCost{
		estimate: func(checker.CostEstimator, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
			return &checker.CallEstimate{CostEstimate: checker.FixedCostEstimate(c)}
		},
		track: func([]ref.Val, ref.Val) *uint64 { return &c },
	}
}

// nodeSize is the size of an AST node as far as the checker or the estimator knows it.
func nodeSize(est checker.CostEstimator, n checker.AstNode) checker.SizeEstimate {
	if sz := n.ComputedSize(); sz != nil {
		return *sz
	}
	if sz := est.EstimateSize(n); sz != nil {
		return *sz
	}
	return checker.UnknownSizeEstimate()
}

// valueSize is the size of a runtime value: characters, bytes, items or entries; 1 for scalars.
func valueSize(v ref.Val) uint64 {
	if s, ok := v.(traits.Sizer); ok {
		if n, ok := s.Size().(types.Int); ok && n >= 0 {
			return uint64(n)
		}
	}
	return 1
}

// treeSize counts the nodes of a value: 1 for a scalar, 1 plus its elements' tree sizes for a
// list or map.
func treeSize(v ref.Val) uint64 {
	switch val := v.(type) {
	case traits.Mapper:
		n := uint64(1)
		for it := val.Iterator(); it.HasNext() == types.True; {
			n = addSat(n, treeSize(val.Get(it.Next())))
		}
		return n
	case traits.Lister:
		n := uint64(1)
		for it := val.Iterator(); it.HasNext() == types.True; {
			n = addSat(n, treeSize(it.Next()))
		}
		return n
	}
	return 1
}

func addSat(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// CompileWithLimits is Compile with explicit limits: the program runs under limits.CostLimit.
// An expression whose estimated minimum cost (the cost on the smallest inputs) is above the
// runtime limit is rejected with an error wrapping ErrCostLimitExceeded: every evaluation
// would fail. When limits.StaticCostLimit is set and the estimated worst case exceeds it, the
// program is returned with a Warning.
func CompileWithLimits(env *cel.Env, expr string, limits Limits) (*Program, error) {
	limits = limits.withDefaults()
	checked, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	est, err := EstimateCost(env, checked, limits.MaxInputSize)
	if err != nil {
		return nil, err
	}
	// A saturated minimum means cel-go lost track of the sizes, not that the expression is
	// infinitely expensive.
	if est.Min > limits.CostLimit && est.Min != math.MaxUint64 {
		return nil, fmt.Errorf("estimated to cost at least %d, more than the runtime limit of %d, on any input: %w",
			est.Min, limits.CostLimit, ErrCostLimitExceeded)
	}
	var warning string
	if limits.StaticCostLimit > 0 && est.Max > limits.StaticCostLimit {
		warning = fmt.Sprintf("estimated worst-case cost %s exceeds %d for inputs of up to %d items; evaluations that cost more than the runtime limit of %d fail",
			costString(est.Max), limits.StaticCostLimit, limits.MaxInputSize, limits.CostLimit)
	}
	prg, err := env.Program(checked,
		cel.CostLimit(limits.CostLimit),
		cel.CostTracking(&k8slib.CostEstimator{}),
		cel.InterruptCheckFrequency(interruptCheckFrequency),
	)
	if err != nil {
		return nil, err
	}
	return &Program{
		Expression: expr,
		OutputType: checked.OutputType(),
		References: references(checked.NativeRep(), env),
		Warning:    warning,
		costLimit:  limits.CostLimit,
		program:    prg,
	}, nil
}

func costString(c uint64) string {
	if c == math.MaxUint64 {
		return "unbounded"
	}
	return fmt.Sprintf("%d", c)
}
