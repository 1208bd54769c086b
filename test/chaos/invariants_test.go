package chaos

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/metadata"
)

// violations collects, per invariant, what breaks it, with object names.
type violations map[string][]string

func (v violations) add(invariant, format string, args ...any) {
	v[invariant] = append(v[invariant], fmt.Sprintf(format, args...))
}

// String lists the broken invariants, at most 25 lines each.
func (v violations) String() string {
	var b strings.Builder
	for _, inv := range sortedKeys(v) {
		lines := v[inv]
		slices.Sort(lines)
		fmt.Fprintf(&b, "INVARIANT BROKEN: %s (%d):\n", inv, len(lines))
		for n, l := range lines {
			if n == 25 {
				fmt.Fprintf(&b, "  ... and %d more\n", len(lines)-n)
				break
			}
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// The invariants, as named in failure messages.
const (
	invInstanceActive = "every live instance is ACTIVE with exactly its desired children"
	invNoOrphans      = "no child exists without its live instance"
	invDeletedGone    = "deleted instances are gone (no finalizer left behind)"
	invRGDActive      = "the RGD is Active and not being deleted"
	invCreatedOnce    = "no object was created twice (one UID per name)"
	invRGDGone        = "the deleted RGD is gone, and not before its instances"
)

// liveChild is a child object found in the cluster.
type liveChild struct {
	key    objectKey
	uid    types.UID
	labels map[string]string
	// deleting is set when the object has a deletionTimestamp.
	deleting bool
}

// listChildren lists, in all namespaces, every object of the child kinds that carries
// kro.run/owned=true or an applyset.kubernetes.io/part-of label.
func listChildren(ctx context.Context) ([]liveChild, error) {
	seen := map[types.UID]bool{}
	var out []liveChild
	for _, ck := range childKinds {
		for _, sel := range []string{metadata.OwnedLabel + "=true", metadata.ApplySetPartOfLabel} {
			list, err := env.dynamic.Resource(ck.gvr).List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", ck.kind, err)
			}
			for _, o := range list.Items {
				if seen[o.GetUID()] {
					continue
				}
				seen[o.GetUID()] = true
				out = append(out, liveChild{
					key:      objectKey{ck.kind, o.GetNamespace(), o.GetName()},
					uid:      o.GetUID(),
					labels:   o.GetLabels(),
					deleting: o.GetDeletionTimestamp() != nil,
				})
			}
		}
	}
	return out, nil
}

// checkConverged checks the end state after the chaos: the kept instances are ACTIVE with
// exactly their desired children, the deleted ones are gone with all their children and
// nothing else is left. (That no object was created twice is the recorder's to tell.) An
// error means the check itself could not run (the apiserver did not answer).
func checkConverged(ctx context.Context, rec *recorder, instances []*instance) (violations, error) {
	v := violations{}
	children, err := listChildren(ctx)
	if err != nil {
		return nil, err
	}
	byKey := map[objectKey][]liveChild{}
	for _, c := range children {
		byKey[c.key] = append(byKey[c.key], c)
	}

	list, err := env.dynamic.Resource(instanceGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing instances: %w", err)
	}
	live := map[objectKey]*unstructured.Unstructured{}
	for i := range list.Items {
		u := &list.Items[i]
		live[objectKey{instanceGVK.Kind, u.GetNamespace(), u.GetName()}] = u
	}

	// Which ApplySet belongs to a live instance, and which names it should have.
	liveSets := map[string]*instance{}
	desired := map[objectKey]child{}
	for _, inst := range instances {
		u := live[inst.key()]
		if inst.deleted {
			if u != nil {
				v.add(invDeletedGone, "%s still exists: %s", inst, describeInstance(u))
			}
			continue
		}
		if u == nil {
			v.add(invInstanceActive, "%s is gone although the test never deleted it (history: %s)", inst, rec.History(inst.key()))
			continue
		}
		if u.GetDeletionTimestamp() != nil {
			v.add(invInstanceActive, "%s is being deleted although the test never deleted it: %s", inst, describeInstance(u))
		}
		liveSets[inst.applySetID()] = inst
		if got := u.GetLabels()[metadata.ApplySetIDLabel]; got != inst.applySetID() {
			v.add(invInstanceActive, "%s has label %s=%q, want %q", inst, metadata.ApplySetIDLabel, got, inst.applySetID())
		}
		state, _, _ := unstructured.NestedString(u.Object, "status", "state")
		secretName, _, _ := unstructured.NestedString(u.Object, "status", "secretName")
		if state != "ACTIVE" {
			v.add(invInstanceActive, "%s is not ACTIVE: %s", inst, describeInstance(u))
		} else if secretName != inst.name+"-secret" {
			v.add(invInstanceActive, "%s is ACTIVE with status.secretName %q, want %q", inst, secretName, inst.name+"-secret")
		}
		for _, want := range inst.desiredChildren() {
			desired[want.objectKey] = want
			got := byKey[want.objectKey]
			switch {
			case len(got) == 0:
				v.add(invInstanceActive, "%s: missing %s (history: %s)", inst, want.objectKey, rec.History(want.objectKey))
			case got[0].deleting:
				v.add(invInstanceActive, "%s: %s is being deleted", inst, want.objectKey)
			default:
				if msg := wrongLabels(got[0], inst, string(u.GetUID()), want.node); msg != "" {
					v.add(invInstanceActive, "%s: %s %s", inst, want.objectKey, msg)
				}
			}
		}
	}

	byName := map[objectKey]*instance{}
	for _, inst := range instances {
		byName[inst.key()] = inst
	}
	for _, c := range children {
		setID := c.labels[metadata.ApplySetPartOfLabel]
		owner := liveSets[setID]
		switch {
		case owner == nil:
			v.add(invNoOrphans, "%s (part-of %q, node %s; history: %s) has no live instance; its instance %s",
				c.key, setID, c.labels[metadata.NodeIDLabel], rec.History(c.key),
				story(rec, byName, c.labels[metadata.InstanceNamespaceLabel], c.labels[metadata.InstanceNameLabel]))
		case desired[c.key].objectKey != c.key:
			v.add(invInstanceActive, "%s: %s (node %s) is not desired by its instance any more but still exists (history: %s)",
				owner, c.key, c.labels[metadata.NodeIDLabel], rec.History(c.key))
		}
	}

	rgd := &v1alpha1.ResourceGraphDefinition{}
	if err := env.client.Get(ctx, client.ObjectKey{Name: rgdName}, rgd); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
		v.add(invRGDActive, "RGD %s is gone", rgdName)
	} else if rgd.DeletionTimestamp != nil || rgd.Status.State != v1alpha1.ResourceGraphDefinitionStateActive {
		v.add(invRGDActive, "RGD %s: state %q, deletionTimestamp %v, conditions %s", rgdName, rgd.Status.State, rgd.DeletionTimestamp, describeConditions(rgd.Status.Conditions))
	}

	return v, nil
}

// checkRGDDeleted checks the end state after the RGD and the remaining instances were
// deleted: the RGD is gone, not before its instances, and no instance or child is left.
func checkRGDDeleted(ctx context.Context, rec *recorder, instances []*instance) (violations, error) {
	v := violations{}
	rgd := &v1alpha1.ResourceGraphDefinition{}
	rgdGone := false
	if err := env.client.Get(ctx, client.ObjectKey{Name: rgdName}, rgd); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
		rgdGone = true
		if rgdRV := rec.DeletedRV(rgdKey); rgdRV > 0 {
			for _, inst := range instances {
				if rv := rec.DeletedRV(inst.key()); rv > rgdRV {
					v.add(invRGDGone, "RGD %s was deleted (resourceVersion %d) while instance %s still existed (deleted at resourceVersion %d)", rgdName, rgdRV, inst, rv)
				}
			}
		}
	} else {
		v.add(invRGDGone, "RGD %s still exists: finalizers %v, state %q, conditions %s", rgdName, rgd.Finalizers, rgd.Status.State, describeConditions(rgd.Status.Conditions))
	}
	list, err := env.dynamic.Resource(instanceGVR).List(ctx, metav1.ListOptions{})
	switch {
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		// The CRD went with the RGD, and every instance with it.
	case err != nil:
		return nil, err
	default:
		for i := range list.Items {
			u := &list.Items[i]
			v.add(invDeletedGone, "%s/%s still exists: %s", u.GetNamespace(), u.GetName(), describeInstance(u))
			if rgdGone {
				v.add(invRGDGone, "RGD %s is gone while instance %s/%s still exists", rgdName, u.GetNamespace(), u.GetName())
			}
		}
	}
	children, err := listChildren(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range children {
		v.add(invNoOrphans, "%s (instance %s/%s, node %s) is left behind (history: %s)", c.key,
			c.labels[metadata.InstanceNamespaceLabel], c.labels[metadata.InstanceNameLabel], c.labels[metadata.NodeIDLabel], rec.History(c.key))
	}
	return v, nil
}

// story tells what happened to the instance namespace/name, as the test and its watch saw it.
func story(rec *recorder, byName map[objectKey]*instance, namespace, name string) string {
	key := objectKey{instanceGVK.Kind, namespace, name}
	s := fmt.Sprintf("%s/%s: %s", namespace, name, rec.History(key))
	if inst := byName[key]; inst != nil {
		s += fmt.Sprintf("; the test created it t=%.2fs", inst.created.Seconds())
		if inst.deleteSent != 0 {
			s += fmt.Sprintf(", deleted it t=%.2fs", inst.deleteSent.Seconds())
		}
	}
	return s
}

// wrongLabels describes what is wrong with the kro labels of an instance's child, or "".
func wrongLabels(c liveChild, inst *instance, uid, node string) string {
	want := map[string]string{
		metadata.ApplySetPartOfLabel:    inst.applySetID(),
		metadata.OwnedLabel:             "true",
		metadata.InstanceNameLabel:      inst.name,
		metadata.InstanceNamespaceLabel: inst.namespace,
		metadata.InstanceIDLabel:        uid,
		metadata.NodeIDLabel:            node,
	}
	var bad []string
	for _, k := range sortedKeys(want) {
		if c.labels[k] != want[k] {
			bad = append(bad, fmt.Sprintf("%s=%q (want %q)", k, c.labels[k], want[k]))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	return "has labels " + strings.Join(bad, ", ")
}

// describeInstance summarises an instance's lifecycle state for failure messages.
func describeInstance(u *unstructured.Unstructured) string {
	state, _, _ := unstructured.NestedString(u.Object, "status", "state")
	s := fmt.Sprintf("state %q, finalizers %v", state, u.GetFinalizers())
	if ts := u.GetDeletionTimestamp(); ts != nil {
		s += ", deletionTimestamp " + ts.UTC().Format("15:04:05")
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var parts []string
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["status"] == "True" {
			continue
		}
		parts = append(parts, fmt.Sprintf("%v=%v %v: %v", m["type"], m["status"], m["reason"], m["message"]))
	}
	if len(parts) > 0 {
		s += ", conditions [" + strings.Join(parts, "; ") + "]"
	}
	return s
}

func describeConditions(conds []metav1.Condition) string {
	var parts []string
	for _, c := range conds {
		parts = append(parts, fmt.Sprintf("%s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}
