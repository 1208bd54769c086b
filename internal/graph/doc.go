// Package graph turns a ResourceGraphDefinition into an immutable, checked Graph: the
// generated CRD, one Node per resource with its compiled expressions, and the dependency
// order. It owns every check that can be made before an instance exists. It never mutates the
// RGD and knows nothing about instances or the API server beyond a REST mapper.
package graph
