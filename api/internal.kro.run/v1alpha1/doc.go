// Package v1alpha1 is kro's internal API, group internal.kro.run: the GraphRevision, an
// immutable snapshot of an accepted ResourceGraphDefinition spec. It owns the Go types, their
// validation markers and the generated deepcopy code; it does not own any behaviour. The API
// may change between kro releases: tools should read RGD status, not these objects.
//
// The folder is named after the group (as the reference kro's is) rather than "internal",
// which Go would not let kro's controllers import.
//
// +kubebuilder:object:generate=true
// +groupName=internal.kro.run
package v1alpha1
