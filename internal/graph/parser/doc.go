// Package parser finds the CEL expressions embedded in kro resource
// templates.
//
// Expressions are written as ${...} anywhere inside a string value. The
// package owns three things:
//
//   - the ${...} scanner (ParseString), which splits a string into literal
//     and expression segments while understanding CEL string literals, so a
//     "}" or "${" inside a quoted literal neither ends nor starts anything;
//   - the template walker (ParseTemplate), which visits a decoded YAML/JSON
//     object in a deterministic order and reports every string field that
//     holds expressions together with its path;
//   - the path format (ParsePath, FormatPath) used to address those fields.
//
// It does not parse, type-check or evaluate CEL: expression texts are
// returned verbatim for the CEL environment to compile. It does not know
// about resources, schemas or dependencies between resources either; those
// belong to the graph builder and the dag package.
package parser
