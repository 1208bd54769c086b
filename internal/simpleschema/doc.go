// Package simpleschema owns kro's SimpleSchema language: the compact,
// string-based schema notation used in ResourceGraphDefinition `spec` and
// `types` blocks. It parses type expressions ("string", "[]Port",
// "map[string][]integer", custom type names), parses field markers
// ("required", "default=3", "pattern=\"^a+$\"", ...) and converts a whole
// schema into an OpenAPI v3 apiextensionsv1.JSONSchemaProps suitable for a
// CustomResourceDefinition.
//
// The package is pure: it holds no global mutable state, performs no I/O and
// returns errors (never panics) for malformed input. Errors name the offending
// field path (for example `spec.ingress.host` or `types.Person.age`) and, where
// relevant, the marker.
package simpleschema
