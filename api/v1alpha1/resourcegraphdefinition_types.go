package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// ResourceGraphDefinitionSpec defines a new API (Schema) and the resources every instance of
// it is made of.
type ResourceGraphDefinitionSpec struct {
	// Schema describes the API that kro generates a CRD for.
	// +kubebuilder:validation:Required
	Schema *Schema `json:"schema"`
	// Resources are the templated or referenced objects of each instance.
	// +kubebuilder:validation:Optional
	Resources []*Resource `json:"resources,omitempty"`
}

// Schema is the definition of the generated API.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.kind) || self.kind == oldSelf.kind",message="kind is immutable"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.apiVersion) || self.apiVersion == oldSelf.apiVersion",message="apiVersion is immutable"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.group) || (has(self.group) && self.group == oldSelf.group)",message="group is immutable"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.scope) || (has(self.scope) && self.scope == oldSelf.scope)",message="scope is immutable"
type Schema struct {
	// Kind of the generated API, in UpperCamelCase.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Pattern=`^[A-Z][a-zA-Z0-9]{0,62}$`
	Kind string `json:"kind"`
	// APIVersion is the version of the generated API, such as v1alpha1.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Pattern=`^v[0-9]+(alpha[0-9]+|beta[0-9]+)?$`
	APIVersion string `json:"apiVersion"`
	// Group of the generated API.
	// +kubebuilder:validation:Optional
	// +kubebuilder:default="kro.run"
	Group string `json:"group,omitempty"`
	// Scope of the generated API.
	// +kubebuilder:validation:Optional
	// +kubebuilder:validation:Enum=Namespaced;Cluster
	// +kubebuilder:default=Namespaced
	Scope ResourceScope `json:"scope,omitempty"`
	// Spec is the SimpleSchema of the instance spec.
	// +kubebuilder:validation:Optional
	// +kubebuilder:pruning:PreserveUnknownFields
	Spec runtime.RawExtension `json:"spec,omitempty"`
	// Types are reusable SimpleSchema types used by Spec.
	// +kubebuilder:validation:Optional
	// +kubebuilder:pruning:PreserveUnknownFields
	Types runtime.RawExtension `json:"types,omitempty"`
	// Status maps instance status fields to CEL expressions; the optional conditions list
	// declares custom conditions.
	// +kubebuilder:validation:Optional
	// +kubebuilder:pruning:PreserveUnknownFields
	Status runtime.RawExtension `json:"status,omitempty"`
	// AdditionalPrinterColumns replace the default printer columns of the generated CRD.
	// +kubebuilder:validation:Optional
	AdditionalPrinterColumns []AdditionalPrinterColumn `json:"additionalPrinterColumns,omitempty"`
	// ShortNames of the generated CRD.
	// +kubebuilder:validation:Optional
	ShortNames []string `json:"shortNames,omitempty"`
	// Categories of the generated CRD.
	// +kubebuilder:validation:Optional
	Categories []string `json:"categories,omitempty"`
	// Metadata holds labels and annotations put on the generated CRD.
	// +kubebuilder:validation:Optional
	Metadata *CRDMetadata `json:"metadata,omitempty"`
}

// ResourceScope is the scope of the generated API.
type ResourceScope string

const (
	// ResourceScopeNamespaced makes instances namespaced (the default).
	ResourceScopeNamespaced ResourceScope = "Namespaced"
	// ResourceScopeCluster makes instances cluster-scoped.
	ResourceScopeCluster ResourceScope = "Cluster"
)

// AdditionalPrinterColumn is a printer column of the generated CRD.
type AdditionalPrinterColumn struct {
	// +kubebuilder:validation:Required
	Name string `json:"name"`
	// +kubebuilder:validation:Required
	Type string `json:"type"`
	// +kubebuilder:validation:Optional
	Format string `json:"format,omitempty"`
	// +kubebuilder:validation:Optional
	Description string `json:"description,omitempty"`
	// +kubebuilder:validation:Optional
	Priority int32 `json:"priority,omitempty"`
	// +kubebuilder:validation:Required
	JSONPath string `json:"jsonPath"`
}

// CRDMetadata holds labels and annotations for the generated CRD.
type CRDMetadata struct {
	// +kubebuilder:validation:Optional
	Labels map[string]string `json:"labels,omitempty"`
	// +kubebuilder:validation:Optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Resource is one node of the graph: a template kro applies, or an external reference it
// only reads.
// +kubebuilder:validation:XValidation:rule="(has(self.template) ? 1 : 0) + (has(self.externalRef) ? 1 : 0) == 1",message="exactly one of template or externalRef must be set"
type Resource struct {
	// ID names the resource in CEL expressions; lowerCamelCase and unique.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Pattern=`^[a-z][a-zA-Z0-9]*$`
	ID string `json:"id"`
	// Template is the object kro applies, with ${...} expressions.
	// +kubebuilder:validation:Optional
	// +kubebuilder:pruning:PreserveUnknownFields
	Template runtime.RawExtension `json:"template,omitempty"`
	// ExternalRef references an object kro reads but never writes.
	// +kubebuilder:validation:Optional
	ExternalRef *ExternalRef `json:"externalRef,omitempty"`
	// ReadyWhen lists expressions that must all be true before dependents are rendered.
	// +kubebuilder:validation:Optional
	ReadyWhen []string `json:"readyWhen,omitempty"`
	// IncludeWhen lists expressions that must all be true for the resource to exist.
	// +kubebuilder:validation:Optional
	IncludeWhen []string `json:"includeWhen,omitempty"`
	// ForEach makes the resource a collection: each entry is one iterator name mapped to a
	// list expression; several iterators form a cartesian product.
	// +kubebuilder:validation:Optional
	ForEach []ForEachDimension `json:"forEach,omitempty"`
	// DeletionPolicy says what becomes of the resource's objects when the instance is deleted
	// or they are pruned: Delete (the default) deletes them; Orphan leaves them in place with
	// kro's labels and ApplySet membership removed, so that no instance claims them afterwards.
	// Orphaned, the reference kro's spelling, means the same. Templates only.
	// +kubebuilder:validation:Optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
	// AdoptionPolicy says what kro does when the object already exists and belongs to no
	// ApplySet: IfUnowned (the default) takes it over; Never refuses to (the instance reports
	// the conflict and never writes it); Required takes it over, and waits for it to exist
	// instead of creating it. Templates only.
	// +kubebuilder:validation:Optional
	AdoptionPolicy AdoptionPolicy `json:"adoptionPolicy,omitempty"`
}

// DeletionPolicy is what becomes of a resource's objects on instance deletion and pruning.
// +kubebuilder:validation:Enum=Delete;Orphan;Orphaned
type DeletionPolicy string

// Deletion policies.
const (
	DeletionPolicyDelete DeletionPolicy = "Delete"
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
	// DeletionPolicyOrphaned is the reference kro's name of Orphan, and the value kro writes
	// in the deletion-policy annotation, as the reference does.
	DeletionPolicyOrphaned DeletionPolicy = "Orphaned"
)

// Orphans reports whether the policy leaves objects in place.
func (p DeletionPolicy) Orphans() bool {
	return p == DeletionPolicyOrphan || p == DeletionPolicyOrphaned
}

// AdoptionPolicy is how kro treats an existing object that belongs to no ApplySet.
// +kubebuilder:validation:Enum=IfUnowned;Never;Required
type AdoptionPolicy string

// Adoption policies.
const (
	AdoptionPolicyIfUnowned AdoptionPolicy = "IfUnowned"
	AdoptionPolicyNever     AdoptionPolicy = "Never"
	AdoptionPolicyRequired  AdoptionPolicy = "Required"
)

// ForEachDimension maps one iterator name to the expression of its list.
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:MaxProperties=1
type ForEachDimension map[string]string

// ExternalRef references an existing object by name or by label selector.
type ExternalRef struct {
	// +kubebuilder:validation:Required
	APIVersion string `json:"apiVersion"`
	// +kubebuilder:validation:Required
	Kind string `json:"kind"`
	// +kubebuilder:validation:Required
	Metadata ExternalRefMetadata `json:"metadata"`
}

// ExternalRefMetadata selects the referenced object(s).
// +kubebuilder:validation:XValidation:rule="(has(self.name) ? 1 : 0) + (has(self.selector) ? 1 : 0) == 1",message="exactly one of name or selector must be set"
type ExternalRefMetadata struct {
	// +kubebuilder:validation:Optional
	Name string `json:"name,omitempty"`
	// Namespace defaults to the instance's namespace; empty with a selector means all
	// namespaces.
	// +kubebuilder:validation:Optional
	Namespace string `json:"namespace,omitempty"`
	// +kubebuilder:validation:Optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// ResourceGraphDefinitionState is the summary state of an RGD.
type ResourceGraphDefinitionState string

const (
	// ResourceGraphDefinitionStateActive means the graph is accepted and instances are served.
	ResourceGraphDefinitionStateActive ResourceGraphDefinitionState = "Active"
	// ResourceGraphDefinitionStateInactive means something is not ready; see conditions.
	ResourceGraphDefinitionStateInactive ResourceGraphDefinitionState = "Inactive"
)

// Condition types and reasons of an RGD.
const (
	ConditionGraphAccepted          = "GraphAccepted"
	ConditionKindReady              = "KindReady"
	ConditionControllerReady        = "ControllerReady"
	ConditionGraphRevisionsResolved = "GraphRevisionsResolved"
	ConditionReady                  = "Ready"
)

// ResourceGraphDefinitionStatus is the observed state of an RGD.
type ResourceGraphDefinitionStatus struct {
	// State is Active when the graph is accepted, the CRD is ready and instances are served.
	// +kubebuilder:validation:Optional
	State ResourceGraphDefinitionState `json:"state,omitempty"`
	// TopologicalOrder lists resource ids in creation order.
	// +kubebuilder:validation:Optional
	TopologicalOrder []string `json:"topologicalOrder,omitempty"`
	// Conditions describe the RGD's readiness.
	// +kubebuilder:validation:Optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Resources lists every resource with its dependencies.
	// +kubebuilder:validation:Optional
	Resources []ResourceInformation `json:"resources,omitempty"`
	// LastIssuedRevision is the number of the newest GraphRevision issued for this RGD's
	// name; revision numbers never go back, also when old revisions are pruned.
	// +kubebuilder:validation:Optional
	LastIssuedRevision int64 `json:"lastIssuedRevision,omitempty"`
}

// ResourceInformation describes one resource of the graph.
type ResourceInformation struct {
	// ID of the resource.
	ID string `json:"id"`
	// Dependencies are the resources this one depends on.
	// +kubebuilder:validation:Optional
	Dependencies []Dependency `json:"dependencies,omitempty"`
}

// Dependency names a resource another one depends on.
type Dependency struct {
	ID string `json:"id"`
}

// ResourceGraphDefinition defines a new Kubernetes API and the graph of resources that each
// of its instances is made of.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=rgd,categories=kro
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="APIVERSION",type=string,JSONPath=`.spec.schema.apiVersion`
// +kubebuilder:printcolumn:name="KIND",type=string,JSONPath=`.spec.schema.kind`
// +kubebuilder:printcolumn:name="STATE",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="READY",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="TOPOLOGICALORDER",type=string,priority=1,JSONPath=`.status.topologicalOrder`
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
type ResourceGraphDefinition struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ResourceGraphDefinitionSpec   `json:"spec,omitempty"`
	Status ResourceGraphDefinitionStatus `json:"status,omitempty"`
}

// ResourceGraphDefinitionList is a list of ResourceGraphDefinitions.
//
// +kubebuilder:object:root=true
type ResourceGraphDefinitionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ResourceGraphDefinition `json:"items"`
}
