package cel

import "testing"

// Expected values were computed independently in python3:
//
//	h = hashlib.sha256(seed.encode()).digest()
//	seededString: "".join(A[struct.unpack(">I", h[4*i%32:4*i%32+4])[0] % 36] for i in range(n))
//	seededInt:    lo + struct.unpack(">Q", h[:8])[0] % (hi - lo)
func TestRandomLibrary(t *testing.T) {
	cases := map[string]exprCase{
		"SeededString": {
			reason: "eight characters of the alphabet picked by the big-endian words of SHA-256(seed)",
			expr:   `random.seededString(8, "abc")`,
			want:   "r6qfjs5d",
		},
		"SeededStringRepeats": {
			reason: "the string repeats every 8 characters, as the reference's does",
			expr:   `random.seededString(16, "abc")`,
			want:   "r6qfjs5dr6qfjs5d",
		},
		"SeededStringOddLength": {
			reason: "a length that is not a multiple of 8",
			expr:   `random.seededString(20, "hello world")`,
			want:   "lov2zmo9lov2zmo9lov2",
		},
		"SeededStringEmptySeed": {
			reason: "the empty seed is a seed",
			expr:   `random.seededString(1, "")`,
			want:   "e",
		},
		"SeededStringFromData": {
			reason: "length first, then the seed, typically a uid",
			expr:   `random.seededString(10, v.uid)`,
			want:   "z2ap2l0az2",
		},
		"SeededStringZero": {
			reason:  "length must be positive",
			expr:    `random.seededString(0, "abc")`,
			wantErr: "random.seededString: length must be positive",
		},
		"SeededStringNegative": {
			reason:  "length must be positive",
			expr:    `random.seededString(-1, "abc")`,
			wantErr: "random.seededString: length must be positive",
		},
		"SeededStringTooLong": {
			reason:  "a huge length is rejected before anything is allocated",
			expr:    `random.seededString(1000000000, "abc")`,
			wantErr: "exceeds the maximum",
		},
		"SeededStringArgumentOrder": {
			reason:  "the seed is the second argument",
			expr:    `random.seededString("abc", 8)`,
			wantErr: "found no matching overload for 'random.seededString'",
		},
		"SeededStringDynSeedNotString": {
			reason:  "a dyn seed that is not a string fails at runtime",
			expr:    `random.seededString(4, v.n)`,
			wantErr: "no such overload",
		},
		"SeededInt": {
			reason: "min + first 8 bytes of SHA-256(seed) mod (max - min)",
			expr:   `random.seededInt(0, 10, "abc")`,
			want:   int64(4),
		},
		"SeededIntNodePort": {
			reason: "the reference's documented NodePort example",
			expr:   `random.seededInt(30000, 32768, v.uid)`,
			want:   int64(31966),
		},
		"SeededIntNegative": {
			reason: "negative bounds",
			expr:   `random.seededInt(-5, 5, "x")`,
			want:   int64(1),
		},
		"SeededIntSingleValue": {
			reason: "a range of one value",
			expr:   `random.seededInt(100, 101, "seed")`,
			want:   int64(100),
		},
		"SeededIntFullRange": {
			reason: "max - min overflows int64 and still gives the reference's value",
			expr:   `random.seededInt(-9223372036854775807 - 1, 9223372036854775807, "abc")`,
			want:   int64(4213142463398924266),
		},
		"SeededIntEqualBounds": {
			reason:  "min must be less than max",
			expr:    `random.seededInt(5, 5, "x")`,
			wantErr: "random.seededInt: min 5 must be less than max 5",
		},
		"SeededIntReversedBounds": {
			reason:  "min must be less than max",
			expr:    `random.seededInt(10, 5, "x")`,
			wantErr: "must be less than max",
		},
		"SeededIntWrongTypes": {
			reason:  "bounds are ints and the seed a string",
			expr:    `random.seededInt(0, 10, 123)`,
			wantErr: "found no matching overload for 'random.seededInt'",
		},
		"SeededIntMissingSeed": {
			reason:  "the seed is required",
			expr:    `random.seededInt(0, 10)`,
			wantErr: "found no matching overload",
		},
	}
	runExprCases(t, libraryEnv(t), libraryVars(), cases)
}
