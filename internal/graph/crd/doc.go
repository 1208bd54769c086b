// Package crd builds the CustomResourceDefinition kro generates for an RGD's schema (SPEC §5):
// names, scope, the spec and status schemas, printer columns and kro's labels. It does not
// apply the CRD or compare versions of it.
package crd
