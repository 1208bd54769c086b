package cli

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
)

// clusterSource is the source of diff and explain: objects are read from the cluster, and
// applying is either a server-side dry-run apply as the controller's apply (diff) or nothing
// (explain: objects are seen as they are, or as desired when they do not exist yet).
type clusterSource struct {
	k      *clusterKinds
	setID  string
	dryRun bool
	// applies records, in order, every object the pass applied: the live object before (nil
	// when absent) and after (the dry-run result; nil without dryRun).
	applies []applyRecord
}

type applyRecord struct {
	node          string
	desired       *unstructured.Unstructured
	before, after *unstructured.Unstructured
}

func (s *clusterSource) resource(gvr schema.GroupVersionResource, namespace string) dynamic.ResourceInterface {
	if namespace == "" {
		return s.k.dynamic.Resource(gvr)
	}
	return s.k.dynamic.Resource(gvr).Namespace(namespace)
}

func (s *clusterSource) applied(ctx context.Context, n *graph.Node, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri := s.resource(n.GVR, desired.GetNamespace())
	before, err := ri.Get(ctx, desired.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		before = nil
	case err != nil:
		return nil, err
	}
	if before != nil {
		// As the controller: an object of another ApplySet is never written.
		if owner := before.GetLabels()[metadata.ApplySetPartOfLabel]; owner != "" && owner != s.setID {
			return nil, fmt.Errorf("resource belongs to a different ApplySet: %s %s is part of %s", n.GVK.Kind, objectName(before), owner)
		}
	}
	rec := applyRecord{node: n.ID, desired: desired, before: before}
	defer func() { s.applies = append(s.applies, rec) }()
	if !s.dryRun {
		if before != nil {
			return before, nil
		}
		return desired, nil
	}
	after, err := ri.Apply(ctx, desired.GetName(), desired, metav1.ApplyOptions{
		FieldManager: metadata.FieldManager, Force: true, DryRun: []string{metav1.DryRunAll},
	})
	if err != nil {
		return nil, fmt.Errorf("server-side dry-run apply of %s %s: %w", n.GVK.Kind, objectName(desired), err)
	}
	rec.after = after
	return after, nil
}

func (s *clusterSource) mapping(gvk schema.GroupVersionKind) (schema.GroupVersionResource, error) {
	m, err := s.k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return schema.GroupVersionResource{}, err
	}
	return m.Resource, nil
}

func (s *clusterSource) get(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error) {
	gvr, err := s.mapping(gvk)
	if err != nil {
		return nil, err
	}
	obj, err := s.resource(gvr, namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return obj, err
}

func (s *clusterSource) list(ctx context.Context, gvk schema.GroupVersionKind, namespace string, selector labels.Selector) ([]*unstructured.Unstructured, error) {
	gvr, err := s.mapping(gvk)
	if err != nil {
		return nil, err
	}
	l, err := s.resource(gvr, namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, err
	}
	out := make([]*unstructured.Unstructured, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	sortObjects(out)
	return out, nil
}

// owned lists the objects of the instance's ApplySet, found as the controller finds them: of
// the kinds the graph creates and those the instance's group-kinds annotation records, with
// the ApplySet part-of label.
func (s *clusterSource) owned(ctx context.Context, g *graph.Graph, inst *unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	seen := map[schema.GroupKind]bool{}
	var gvrs []schema.GroupVersionResource
	for _, n := range g.Nodes {
		if n.External == nil && !seen[n.GVK.GroupKind()] {
			seen[n.GVK.GroupKind()] = true
			gvrs = append(gvrs, n.GVR)
		}
	}
	for _, str := range strings.Split(inst.GetAnnotations()[metadata.ApplySetGroupKindsAnnotation], ",") {
		gk := schema.ParseGroupKind(str)
		if str == "" || seen[gk] {
			continue
		}
		seen[gk] = true
		m, err := s.k.mapper.RESTMapping(gk)
		if err != nil {
			continue // the kind is gone, and every object of it
		}
		gvrs = append(gvrs, m.Resource)
	}
	var out []*unstructured.Unstructured
	for _, gvr := range gvrs {
		l, err := s.k.dynamic.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: metadata.ApplySetPartOfLabel + "=" + s.setID})
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", gvr.Resource, err)
		}
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	}
	return out, nil
}
