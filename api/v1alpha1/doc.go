// Package v1alpha1 is the public API of kro: the ResourceGraphDefinition (RGD) type of the
// kro.run/v1alpha1 group. It owns the Go types, their validation markers and the generated
// deepcopy code; it does not own any behaviour.
//
// +kubebuilder:object:generate=true
// +groupName=kro.run
package v1alpha1
