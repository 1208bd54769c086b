// Package schema owns the OpenAPI schemas kro type-checks against: resolving the schema of a
// GVK from the API server (cached, bounded, invalidated when CRDs change), turning schemas into
// CEL declaration types, and checking that an expression's type fits a field. It does not
// compile expressions.
package schema
