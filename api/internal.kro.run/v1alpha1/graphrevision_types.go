package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	krov1alpha1 "github.com/kro-run/kro/api/v1alpha1"
)

// Condition types of a GraphRevision.
const (
	// ConditionGraphVerified is True when the snapshot's graph was built and checked against
	// the cluster.
	ConditionGraphVerified = "GraphVerified"
	// ConditionReady summarizes the other conditions.
	ConditionReady = "Ready"
)

// GraphRevisionSpec is the immutable snapshot of one accepted RGD spec.
type GraphRevisionSpec struct {
	// Revision is the number of this revision, monotonic per RGD name.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Minimum=1
	Revision int64 `json:"revision"`
	// Snapshot is the RGD's identity and spec when the revision was issued.
	// +kubebuilder:validation:Required
	Snapshot ResourceGraphDefinitionSnapshot `json:"snapshot"`
}

// ResourceGraphDefinitionSnapshot captures an RGD at the time a revision was issued.
type ResourceGraphDefinitionSnapshot struct {
	// Name of the RGD; revisions belong to the RGD of this name.
	// +kubebuilder:validation:Required
	Name string `json:"name"`
	// Generation is the RGD's metadata.generation when the revision was issued.
	// +kubebuilder:validation:Required
	Generation int64 `json:"generation"`
	// Spec is a copy of the RGD's spec.
	// +kubebuilder:validation:Required
	Spec krov1alpha1.ResourceGraphDefinitionSpec `json:"spec"`
}

// GraphRevisionStatus is what kro observed of the revision's graph.
type GraphRevisionStatus struct {
	// TopologicalOrder lists resource ids in creation order.
	// +kubebuilder:validation:Optional
	TopologicalOrder []string `json:"topologicalOrder,omitempty"`
	// Conditions are GraphVerified and the summary Ready.
	// +kubebuilder:validation:Optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Resources lists every resource with its dependencies.
	// +kubebuilder:validation:Optional
	Resources []krov1alpha1.ResourceInformation `json:"resources,omitempty"`
}

// GraphRevision is an immutable snapshot of an accepted ResourceGraphDefinition spec. kro
// issues one per accepted spec change, named <rgd>-r<NNNNN>, owned by the RGD, and keeps the
// newest ones.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=gr
// +kubebuilder:subresource:status
// +kubebuilder:selectablefield:JSONPath=`.spec.snapshot.name`
// +kubebuilder:printcolumn:name="RGD",type=string,JSONPath=`.spec.snapshot.name`
// +kubebuilder:printcolumn:name="REVISION",type=integer,JSONPath=`.spec.revision`
// +kubebuilder:printcolumn:name="HASH",type=string,priority=1,JSONPath=`.metadata.labels.kro\.run/graph-revision-hash`
// +kubebuilder:printcolumn:name="READY",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
type GraphRevision struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable"
	Spec   GraphRevisionSpec   `json:"spec,omitempty"`
	Status GraphRevisionStatus `json:"status,omitempty"`
}

// GraphRevisionList is a list of GraphRevisions.
//
// +kubebuilder:object:root=true
type GraphRevisionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GraphRevision `json:"items"`
}
