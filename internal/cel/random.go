package cel

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// randomLibrary derives stable "random" values from a seed (typically schema.metadata.uid), so
// a value stays the same across reconciles:
//
//	random.seededString(int length, string seed) -> string   length characters of 0-9a-z
//	random.seededInt(int min, int max, string seed) -> int    an int in [min, max)
//
// Users' generated names and passwords depend on these values, so they are bit-for-bit the
// reference's: with h = SHA-256(seed), character i of seededString is
// alphabet[BigEndianUint32(h[4i mod 32 : 4i mod 32 + 4]) mod 36] (so the string repeats every
// 8 characters), and seededInt is min + BigEndianUint64(h[0:8]) mod (max - min). A length <= 0
// or min >= max is an error; so is a length above maxSeededStringLength, which bounds the
// memory one call can take.
type randomLibrary struct{}

const (
	seededAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	// maxSeededStringLength bounds random.seededString: the string is built before the cost
	// tracker sees it, so the cost limit alone cannot stop a huge allocation.
	maxSeededStringLength = 1 << 16
)

// LibraryName makes the library a singleton.
func (randomLibrary) LibraryName() string { return "kro.random" }

func (randomLibrary) CompileOptions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Function("random.seededString",
			cel.Overload("random.seededString_int_string", []*cel.Type{cel.IntType, cel.StringType}, cel.StringType,
				cel.BinaryBinding(seededString)),
		),
		cel.Function("random.seededInt",
			cel.Overload("random.seededInt_int_int_string", []*cel.Type{cel.IntType, cel.IntType, cel.StringType}, cel.IntType,
				cel.FunctionBinding(seededInt)),
		),
		costEnvOption(randomCosts()),
	}
}

func (randomLibrary) ProgramOptions() []cel.ProgramOption {
	return []cel.ProgramOption{costProgramOption(randomCosts())}
}

func randomCosts() map[string]overloadCost {
	str := overloadCost{
		estimate: func(est checker.CostEstimator, _ *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
			if len(args) != 2 {
				return nil
			}
			n := checker.SizeEstimate{Min: 1, Max: maxSeededStringLength}
			if c := args[0].Expr(); c.Kind() == ast.LiteralKind {
				if i, ok := c.AsLiteral().(types.Int); ok && i > 0 && i <= maxSeededStringLength {
					n = checker.FixedSizeEstimate(uint64(i))
				}
			}
			cost := nodeSize(est, args[1]).Add(n).MultiplyByCostFactor(traversalCostFactor).
				Add(checker.FixedCostEstimate(callCost))
			return &checker.CallEstimate{CostEstimate: cost, ResultSize: &n}
		},
		track: func(args []ref.Val, result ref.Val) *uint64 {
			c := addSat(callCost, uint64(float64(addSat(valueSize(args[1]), valueSize(result)))*traversalCostFactor))
			return &c
		},
	}
	return map[string]overloadCost{
		"random.seededString_int_string":  str,
		"random.seededInt_int_int_string": linearCost(0, traversalCostFactor, 2),
	}
}

func seededString(length, seed ref.Val) ref.Val {
	n, ok := length.(types.Int)
	if !ok {
		return types.NewErr("random.seededString: length is %s, expected int", length.Type().TypeName())
	}
	s, ok := seed.(types.String)
	if !ok {
		return types.NewErr("random.seededString: seed is %s, expected string", seed.Type().TypeName())
	}
	if n <= 0 {
		return types.NewErr("random.seededString: length must be positive, got %d", int64(n))
	}
	if n > maxSeededStringLength {
		return types.NewErr("random.seededString: length %d exceeds the maximum of %d", int64(n), maxSeededStringLength)
	}
	h := sha256.Sum256([]byte(s))
	out := make([]byte, n)
	for i := range out {
		off := (4 * i) % len(h)
		out[i] = seededAlphabet[binary.BigEndian.Uint32(h[off:off+4])%uint32(len(seededAlphabet))]
	}
	return types.String(out)
}

func seededInt(args ...ref.Val) ref.Val {
	if len(args) != 3 {
		return types.NewErr("random.seededInt: got %d arguments, expected 3", len(args))
	}
	lo, ok1 := args[0].(types.Int)
	hi, ok2 := args[1].(types.Int)
	s, ok3 := args[2].(types.String)
	if !ok1 || !ok2 || !ok3 {
		return types.NewErr("random.seededInt: arguments are (%s, %s, %s), expected (int, int, string)",
			args[0].Type().TypeName(), args[1].Type().TypeName(), args[2].Type().TypeName())
	}
	if lo >= hi {
		return types.NewErr("random.seededInt: min %d must be less than max %d", int64(lo), int64(hi))
	}
	h := sha256.Sum256([]byte(s))
	// hi - lo may overflow int64; two's complement makes the uint64 conversion exact anyway, and
	// the sum wraps back into [lo, hi).
	span := uint64(int64(hi) - int64(lo))
	return types.Int(int64(lo) + int64(binary.BigEndian.Uint64(h[:8])%span))
}
