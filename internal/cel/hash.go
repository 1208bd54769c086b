package cel

import (
	"crypto/md5" //nolint:gosec // MD5 is offered for compatibility with the reference, not for security.
	"crypto/sha256"
	"hash/fnv"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// hashLibrary hashes strings into raw digest bytes, as the reference kro does:
//
//	hash.fnv64a(string) -> bytes   FNV-1a, 64 bits (8 bytes); fast, not cryptographic
//	hash.sha256(string) -> bytes   SHA-256 (32 bytes)
//	hash.md5(string) -> bytes      MD5 (16 bytes)
//
// The result is bytes, so users encode it: base64.encode(hash.sha256(s)) or
// "%x".format([hash.fnv64a(s)]). A bytes result left as a field value becomes base64 (ToNative).
// Cost: linear in the length of the input.
type hashLibrary struct{}

// LibraryName makes the library a singleton: registering it twice is harmless.
func (hashLibrary) LibraryName() string { return "kro.hash" }

func (hashLibrary) CompileOptions() []cel.EnvOption {
	return []cel.EnvOption{
		hashFunction("hash.fnv64a", func(b []byte) []byte {
			h := fnv.New64a()
			_, _ = h.Write(b)
			return h.Sum(nil)
		}),
		hashFunction("hash.sha256", func(b []byte) []byte {
			s := sha256.Sum256(b)
			return s[:]
		}),
		hashFunction("hash.md5", func(b []byte) []byte {
			s := md5.Sum(b) //nolint:gosec // see import.
			return s[:]
		}),
		costEnvOption(hashCosts()),
	}
}

func (hashLibrary) ProgramOptions() []cel.ProgramOption {
	return []cel.ProgramOption{costProgramOption(hashCosts())}
}

func hashCosts() map[string]overloadCost {
	return map[string]overloadCost{
		"hash.fnv64a_string": linearCost(0, traversalCostFactor, 0),
		"hash.sha256_string": linearCost(0, traversalCostFactor, 0),
		"hash.md5_string":    linearCost(0, traversalCostFactor, 0),
	}
}

func hashFunction(name string, sum func([]byte) []byte) cel.EnvOption {
	return cel.Function(name,
		cel.Overload(name+"_string", []*cel.Type{cel.StringType}, cel.BytesType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				s, ok := v.(types.String)
				if !ok {
					return types.NewErr("%s: argument is %s, expected string", name, v.Type().TypeName())
				}
				return types.Bytes(sum([]byte(s)))
			}),
		),
	)
}
