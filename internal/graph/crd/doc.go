// Package crd builds the CustomResourceDefinition kro generates for an RGD's schema (SPEC §5):
// names, scope, the spec and status schemas, printer columns and kro's labels; and compares two
// versions of it, listing the changes that would break existing instances (compat.go). It does
// not read or apply CRDs.
package crd
