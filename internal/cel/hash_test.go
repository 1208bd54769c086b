package cel

import "testing"

// Expected digests were computed independently with python3 hashlib (sha256, md5) and a
// python FNV-1a loop (offset 0xcbf29ce484222325, prime 0x100000001b3).
func TestHashLibrary(t *testing.T) {
	cases := map[string]exprCase{
		"FNV64aHex": {
			reason: "hash.fnv64a returns the 8 big-endian bytes of FNV-1a",
			expr:   `"%x".format([hash.fnv64a("hello world")])`,
			want:   "779a65e7023cd2e7",
		},
		"FNV64aEmpty": {
			reason: "the FNV-1a hash of the empty string is the offset basis; bytes become base64",
			expr:   `hash.fnv64a("")`,
			want:   "y/Kc5IQiIyU=",
		},
		"FNV64aSize": {
			reason: "FNV-1a 64 is 8 bytes",
			expr:   `size(hash.fnv64a(schema.spec.name))`,
			want:   int64(8),
		},
		"SHA256Base64": {
			reason: "base64.encode of hash.sha256",
			expr:   `base64.encode(hash.sha256("hello world"))`,
			want:   "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=",
		},
		"SHA256Hex": {
			reason: "hex of the SHA-256 of the empty string",
			expr:   `"%x".format([hash.sha256("")])`,
			want:   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		},
		"SHA256OfData": {
			reason: "hashing data read from a variable",
			expr:   `"%x".format([hash.sha256(v.s.replace("seed", "kro"))])`,
			want:   "53478db94ea65ea77f0cd9056cd16926d7e6605e0b7f74257194ea8553521854",
		},
		"MD5Hex": {
			reason: "hex of hash.md5",
			expr:   `"%x".format([hash.md5("hello world")])`,
			want:   "5eb63bbbe01eeed093cb22bb8f5acdc3",
		},
		"MD5Size": {
			reason: "MD5 is 16 bytes",
			expr:   `size(hash.md5("kro"))`,
			want:   int64(16),
		},
		"Deterministic": {
			reason: "the same input hashes to the same bytes",
			expr:   `hash.sha256("kro") == hash.sha256("kro")`,
			want:   true,
		},
		"NotAString": {
			reason:  "only strings are hashed; the checker rejects other literals",
			expr:    `hash.md5(1)`,
			wantErr: "found no matching overload for 'hash.md5'",
		},
		"BytesArgument": {
			reason:  "bytes are not strings",
			expr:    `hash.sha256(b"abc")`,
			wantErr: "found no matching overload for 'hash.sha256'",
		},
		"DynNotAString": {
			reason:  "a dyn value that is not a string fails at runtime",
			expr:    `hash.fnv64a(v.n)`,
			wantErr: "no such overload",
		},
		"NoArguments": {
			reason:  "the argument is required",
			expr:    `hash.sha256()`,
			wantErr: "found no matching overload",
		},
	}
	runExprCases(t, libraryEnv(t), libraryVars(), cases)
}
