package crd

import (
	"fmt"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// ChangeKind classifies a breaking change.
type ChangeKind string

// The breaking changes Compare reports.
const (
	FieldRemoved       ChangeKind = "FieldRemoved"
	TypeChanged        ChangeKind = "TypeChanged"
	RequiredAdded      ChangeKind = "RequiredAdded"
	DefaultRemoved     ChangeKind = "DefaultRemoved"
	EnumNarrowed       ChangeKind = "EnumNarrowed"
	PatternChanged     ChangeKind = "PatternChanged"
	BoundTightened     ChangeKind = "BoundTightened"
	ValidationAdded    ChangeKind = "ValidationAdded"
	ListTypeChanged    ChangeKind = "ListTypeChanged"
	VersionRemoved     ChangeKind = "VersionRemoved"
	VersionNotServed   ChangeKind = "VersionNotServed"
	SubresourceRemoved ChangeKind = "SubresourceRemoved"
	ScopeChanged       ChangeKind = "ScopeChanged"
)

// Change is one breaking change between two versions of a CRD.
type Change struct {
	// Path locates the change: a field of the instance such as "spec.ports[*].name", or a
	// part of the CRD such as "scope" or "versions[v1alpha1]".
	Path string
	Kind ChangeKind
	// Detail says what changed, for humans: "type changed from string to integer".
	Detail string
}

func (c Change) String() string { return c.Path + ": " + c.Detail }

// Compare lists the changes from old to new that can break existing instances or their
// clients, sorted by path. Safe changes (a field added, a description or default changed, an
// enum widened, a bound loosened, printer columns) are not listed.
//
// The status schema is not compared: kro alone writes status and rewrites it on every
// reconcile, so a change of its shape cannot make a stored instance invalid.
func Compare(old, new *apiextensionsv1.CustomResourceDefinition) []Change {
	var changes []Change
	if old.Spec.Scope != new.Spec.Scope {
		changes = append(changes, Change{Path: "scope", Kind: ScopeChanged,
			Detail: fmt.Sprintf("scope changed from %s to %s", old.Spec.Scope, new.Spec.Scope)})
	}
	newVersions := map[string]*apiextensionsv1.CustomResourceDefinitionVersion{}
	for i := range new.Spec.Versions {
		newVersions[new.Spec.Versions[i].Name] = &new.Spec.Versions[i]
	}
	for i := range old.Spec.Versions {
		ov := &old.Spec.Versions[i]
		path := "versions[" + ov.Name + "]"
		nv, ok := newVersions[ov.Name]
		if !ok {
			changes = append(changes, Change{Path: path, Kind: VersionRemoved, Detail: "version removed"})
			continue
		}
		if ov.Served && !nv.Served {
			changes = append(changes, Change{Path: path, Kind: VersionNotServed, Detail: "version no longer served"})
		}
		if hasStatus(ov) && !hasStatus(nv) {
			changes = append(changes, Change{Path: path, Kind: SubresourceRemoved, Detail: "status subresource removed"})
		}
		changes = append(changes, CompareSchemas(instanceSchema(ov), instanceSchema(nv))...)
	}
	sortChanges(changes)
	return changes
}

// CompareSchemas lists the breaking changes between the root schemas of two instances,
// ignoring status, sorted by path.
func CompareSchemas(old, new *apiextensionsv1.JSONSchemaProps) []Change {
	if old == nil || new == nil {
		return nil
	}
	o, n := old.DeepCopy(), new.DeepCopy()
	delete(o.Properties, "status")
	delete(n.Properties, "status")
	d := &schemaDiff{}
	d.compareNode("", o, n)
	sortChanges(d.changes)
	return d.changes
}

// Summary describes changes in one line, listing at most limit of them.
func Summary(changes []Change, limit int) string {
	parts := make([]string, 0, min(len(changes), limit)+1)
	for i, c := range changes {
		if i == limit {
			parts = append(parts, fmt.Sprintf("and %d more", len(changes)-limit))
			break
		}
		parts = append(parts, c.String())
	}
	return strings.Join(parts, "; ")
}

func hasStatus(v *apiextensionsv1.CustomResourceDefinitionVersion) bool {
	return v.Subresources != nil && v.Subresources.Status != nil
}

func instanceSchema(v *apiextensionsv1.CustomResourceDefinitionVersion) *apiextensionsv1.JSONSchemaProps {
	if v.Schema == nil {
		return nil
	}
	return v.Schema.OpenAPIV3Schema
}

func sortChanges(changes []Change) {
	sort.SliceStable(changes, func(i, j int) bool {
		if changes[i].Path != changes[j].Path {
			return changes[i].Path < changes[j].Path
		}
		if changes[i].Kind != changes[j].Kind {
			return changes[i].Kind < changes[j].Kind
		}
		return changes[i].Detail < changes[j].Detail
	})
}
