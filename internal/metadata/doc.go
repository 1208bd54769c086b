// Package metadata owns the labels, annotations, finalizer and field manager that kro puts on
// the objects it manages, and the ApplySet identity of an instance. It does not decide when
// they are written.
package metadata
