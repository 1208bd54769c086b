package metadata

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/kro-run/kro/internal/version"
)

// Label and annotation keys kro writes (SPEC §5, §6).
const (
	KroPrefix = "kro.run/"

	OwnedLabel      = "kro.run/owned"
	KroVersionLabel = "kro.run/kro-version"
	NodeIDLabel     = "kro.run/node-id"

	ResourceGraphDefinitionIDLabel   = "kro.run/resource-graph-definition-id"
	ResourceGraphDefinitionNameLabel = "kro.run/resource-graph-definition-name"

	InstanceIDLabel        = "kro.run/instance-id"
	InstanceNameLabel      = "kro.run/instance-name"
	InstanceNamespaceLabel = "kro.run/instance-namespace"
	InstanceGroupLabel     = "kro.run/instance-group"
	InstanceVersionLabel   = "kro.run/instance-version"
	InstanceKindLabel      = "kro.run/instance-kind"

	CollectionIndexLabel = "kro.run/collection-index"
	CollectionSizeLabel  = "kro.run/collection-size"

	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByKro   = "kro"

	ApplySetPartOfLabel                    = "applyset.kubernetes.io/part-of"
	ApplySetIDLabel                        = "applyset.kubernetes.io/id"
	ApplySetToolingAnnotation              = "applyset.kubernetes.io/tooling"
	ApplySetGroupKindsAnnotation           = "applyset.kubernetes.io/contains-group-kinds"
	ApplySetAdditionalNamespacesAnnotation = "applyset.kubernetes.io/additional-namespaces"
	// ApplySetInventoryHashAnnotation on an instance is a checksum of its ApplySet id,
	// group-kinds and additional namespaces (see InventoryHash), as the reference kro writes
	// it; deletion refuses an inventory that does not match it.
	ApplySetInventoryHashAnnotation = "internal.kro.run/applyset-inventory-hash"

	// ReconcileAnnotation set to ReconcileSuspended stops applying an instance's resources.
	ReconcileAnnotation = "kro.run/reconcile"
	ReconcileSuspended  = "suspended"

	// DesiredHashAnnotation on a child is a hash of the desired state kro last applied to it,
	// so that an unchanged desired state needs no apply, also after a restart.
	DesiredHashAnnotation = "internal.kro.run/desired-hash"

	// ApplyOrderAnnotation on a child is the one-based level of its resource in the graph, as
	// the reference kro writes it: deletion goes from the highest order to the lowest.
	ApplyOrderAnnotation = "internal.kro.run/apply-order"

	// DeletionPolicyAnnotation on a child records its resource's deletionPolicy when it is not
	// the default ("Orphaned", as the reference kro writes it), so that deletion and pruning
	// read it from the object, whatever the graph has become since.
	DeletionPolicyAnnotation = "internal.kro.run/deletion-policy"

	// ArgoCDTrackingAnnotation is the annotation Argo CD tracks its resources by; kro copies
	// an instance's to its children.
	ArgoCDTrackingAnnotation = "argocd.argoproj.io/tracking-id"

	// AllowBreakingChangesAnnotation on an RGD lets a breaking CRD schema change through.
	AllowBreakingChangesAnnotation = "kro.run/allow-breaking-changes"
)

const (
	// Finalizer guards RGDs and instances until kro has cleaned up after them.
	Finalizer = "kro.run/finalizer"
	// FieldManager is the server-side apply field manager of every object kro applies.
	FieldManager = "kro.run/applyset"
	// ControllerFieldManager owns what the controller writes outside of applies (CRDs, status).
	ControllerFieldManager = "kro.run/controller"
)

// ReservedPrefixes are label and annotation prefixes templates may not set.
var ReservedPrefixes = []string{"kro.run/", "internal.kro.run/"}

// IsReserved reports whether a label or annotation key belongs to kro.
func IsReserved(key string) bool {
	for _, p := range ReservedPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// ApplySetID is the ApplySet id of a parent object, as defined by the kubectl ApplySet KEP:
// applyset-<base64url(sha256(<name>.<namespace>.<kind>.<group>))>-v1.
func ApplySetID(name, namespace, kind, group string) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{name, namespace, kind, group}, ".")))
	return fmt.Sprintf("applyset-%s-v1", base64.RawURLEncoding.EncodeToString(sum[:]))
}

// InventoryHash is the checksum of an ApplySet inventory the reference kro writes next to it:
// "sha256:" and the unpadded base64url SHA-256 of the ApplySet id, the sorted group-kinds
// ("Kind.group") joined by commas and the sorted additional namespaces joined by commas,
// separated by NUL bytes.
func InventoryHash(applySetID string, groupKinds, namespaces []string) string {
	gks, nss := slices.Sorted(slices.Values(groupKinds)), slices.Sorted(slices.Values(namespaces))
	payload := strings.Join([]string{applySetID, strings.Join(gks, ","), strings.Join(nss, ",")}, "\x00")
	sum := sha256.Sum256([]byte(payload))
	return "sha256:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// Tooling is the value of the ApplySet tooling annotation.
func Tooling() string { return "kro/" + version.Version }

// Instance identifies an instance for the labels of its children.
type Instance struct {
	UID, Name, Namespace, Group, Version, Kind string
}

// ChildLabels are the labels kro sets on every object it applies for an instance's node.
func ChildLabels(inst Instance, nodeID, applySetID string) map[string]string {
	labels := map[string]string{
		OwnedLabel:           "true",
		KroVersionLabel:      version.Version,
		InstanceIDLabel:      inst.UID,
		InstanceNameLabel:    inst.Name,
		InstanceGroupLabel:   inst.Group,
		InstanceVersionLabel: inst.Version,
		InstanceKindLabel:    inst.Kind,
		ManagedByLabel:       ManagedByKro,
		NodeIDLabel:          nodeID,
		ApplySetPartOfLabel:  applySetID,
	}
	// As the reference kro: no namespace label for the children of a cluster-scoped instance.
	if inst.Namespace != "" {
		labels[InstanceNamespaceLabel] = inst.Namespace
	}
	return labels
}

// InstanceLabels are the labels kro keeps on an instance of an RGD's kind.
func InstanceLabels(rgdName, rgdUID, applySetID string) map[string]string {
	return map[string]string{
		OwnedLabel:                       "true",
		KroVersionLabel:                  version.Version,
		ResourceGraphDefinitionIDLabel:   rgdUID,
		ResourceGraphDefinitionNameLabel: rgdName,
		ApplySetIDLabel:                  applySetID,
	}
}

// CRDLabels are the labels kro sets on a generated CRD.
func CRDLabels(rgdName, rgdUID string) map[string]string {
	return map[string]string{
		OwnedLabel:                       "true",
		KroVersionLabel:                  version.Version,
		ResourceGraphDefinitionIDLabel:   rgdUID,
		ResourceGraphDefinitionNameLabel: rgdName,
	}
}
