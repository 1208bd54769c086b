package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
)

// Explanation is the state of an instance and of each of its resources.
type Explanation struct {
	Instance   string             `json:"instance"`
	RGD        string             `json:"rgd"`
	State      string             `json:"state"`
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	Resources  []NodeExplanation  `json:"resources"`
}

// NodeExplanation is the state of one resource of an instance.
type NodeExplanation struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// State is Ready, NotReady, Missing (to be created), Pending, Skipped, External or Error.
	State   string   `json:"state"`
	Objects []string `json:"objects,omitempty"`
	// ReadyWhen are the readiness expressions with their values: true, false, or "not
	// evaluated" after the first that is not true.
	ReadyWhen []ExpressionValue `json:"readyWhen,omitempty"`
	// WaitingOn are the dependencies that are not ready.
	WaitingOn []string `json:"waitingOn,omitempty"`
	// Reason says why the resource is not ready, pending, skipped or failed.
	Reason string `json:"reason,omitempty"`
	// LastError is what the instance's conditions report about this resource.
	LastError string `json:"lastError,omitempty"`
}

// ExpressionValue is an expression and its value.
type ExpressionValue struct {
	Expression string `json:"expression"`
	Value      string `json:"value"`
}

func newExplainCommand(o *globalOptions) *cobra.Command {
	var namespace string
	cmd := &cobra.Command{
		Use:   "explain <kind>/<name> [-n namespace]",
		Short: "Show the state of an instance's resources and what each waits on",
		Long: `explain reads an instance, its RGD and its resources from the cluster of your kubeconfig and
shows, per resource in creation order: its state (Ready, NotReady, Missing, Pending, Skipped,
External, Error), its objects, the value of each readyWhen expression, the resources it waits
on, and the last error the instance's conditions report about it. The kind is a kind, a
resource name or a short name, optionally with its group ("webapps.kro.run").`,
		Example: `  kro explain webapp/demo -n default
  kubectl kro explain webapps.kro.run/demo -o yaml`,
		Args: exactArgs(1),
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "default", "namespace of the instance")
	out := addOutputFlag(cmd, "text", "json", "yaml")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		kind, name, ok := strings.Cut(args[0], "/")
		if !ok || kind == "" || name == "" {
			return &usageError{fmt.Errorf("%q: expected <kind>/<name>", args[0])}
		}
		o.cluster = true
		k, err := o.kinds(nil)
		if err != nil {
			return err
		}
		e, err := explain(cmd.Context(), k, kind, name, namespace)
		if err != nil {
			return err
		}
		if out.value != "text" {
			return printStructured(o.streams.Out, out.value, e)
		}
		printExplanation(o.streams.Out, e)
		return nil
	}
	return cmd
}

var rgdGVR = v1alpha1.GroupVersion.WithResource("resourcegraphdefinitions")

func explain(ctx context.Context, k *kinds, kind, name, namespace string) (*Explanation, error) {
	c := k.cluster
	gvk, err := resolveKind(c, kind)
	if err != nil {
		return nil, &usageError{err}
	}
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	ri := c.dynamic.Resource(m.Resource)
	var inst *unstructured.Unstructured
	if m.Scope.Name() == "namespace" {
		inst, err = ri.Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	} else {
		inst, err = ri.Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return nil, err
	}
	rgd, err := rgdOf(ctx, c, inst)
	if err != nil {
		return nil, err
	}
	e := &Explanation{Instance: gvk.Kind + " " + objectName(inst), RGD: rgd.Name}
	e.State, _, _ = unstructured.NestedString(inst.Object, "status", "state")
	rawConds, _, _ := unstructured.NestedSlice(inst.Object, "status", "conditions")
	for _, rc := range rawConds {
		if cm, ok := rc.(map[string]any); ok {
			var cond metav1.Condition
			if kruntime.DefaultUnstructuredConverter.FromUnstructured(cm, &cond) == nil {
				e.Conditions = append(e.Conditions, cond)
			}
		}
	}
	g, err := k.builder().Build(ctx, rgd)
	if err != nil {
		return nil, fmt.Errorf("the graph of RGD %s does not build (see its GraphAccepted condition): %w", rgd.Name, err)
	}
	src := &clusterSource{k: c, setID: metadata.ApplySetID(inst.GetName(), inst.GetNamespace(), g.Instance.GVK.Kind, g.Instance.GVK.Group)}
	nodes, _, err := renderPass(ctx, g, inst.DeepCopy(), src, passOptions{maxCollection: 1 << 20, argoCDTracking: true})
	if err != nil {
		return nil, err
	}
	missing := map[string]bool{}
	for _, a := range src.applies {
		if a.before == nil {
			missing[a.node] = true
		}
	}
	for _, n := range nodes {
		e.Resources = append(e.Resources, explainNode(g.Node(n.ID), n, missing[n.ID], e.Conditions))
	}
	return e, nil
}

func explainNode(gn *graph.Node, n NodeResult, missing bool, conds []metav1.Condition) NodeExplanation {
	x := NodeExplanation{ID: n.ID, Kind: n.Kind, State: n.State, Reason: n.Reason}
	for _, obj := range n.Objects {
		x.Objects = append(x.Objects, objectName(obj))
	}
	switch {
	case n.State == StateApplied && missing:
		x.State = "Missing"
		x.Reason = "not created yet"
	case n.State == StateApplied || n.State == StateExternal:
		if n.Ready != nil && !*n.Ready {
			x.State = "NotReady"
		} else if n.State == StateApplied {
			x.State = "Ready"
		}
	}
	if n.WaitingOn != "" {
		x.WaitingOn = []string{n.WaitingOn}
	}
	evaluated := n.Ready != nil && !missing
	after := false
	for _, prg := range gn.ReadyWhen {
		v := "not evaluated"
		switch {
		case !evaluated || after:
		case n.NotReadyWhen == prg.Expression:
			v, after = "false", true
		default:
			v = "true"
		}
		x.ReadyWhen = append(x.ReadyWhen, ExpressionValue{Expression: prg.Expression, Value: v})
	}
	for _, c := range conds {
		if c.Status != metav1.ConditionTrue && strings.Contains(c.Message, fmt.Sprintf("resource %q", n.ID)) {
			x.LastError = fmt.Sprintf("%s %s: %s", c.Type, c.Reason, c.Message)
			break
		}
	}
	return x
}

// resolveKind finds the kind of a kind, resource or short name, with an optional group.
func resolveKind(c *clusterKinds, arg string) (schema.GroupVersionKind, error) {
	gvr, gr := schema.ParseResourceArg(strings.ToLower(arg))
	if gvr != nil {
		if gvk, err := c.mapper.KindFor(*gvr); err == nil {
			return gvk, nil
		}
	}
	gvk, err := c.mapper.KindFor(gr.WithVersion(""))
	if err != nil {
		return schema.GroupVersionKind{}, fmt.Errorf("unknown kind %q: %w", arg, err)
	}
	return gvk, nil
}

// rgdOf finds the RGD of an instance: by its label, else by the kind it defines.
func rgdOf(ctx context.Context, c *clusterKinds, inst *unstructured.Unstructured) (*v1alpha1.ResourceGraphDefinition, error) {
	rgd := &v1alpha1.ResourceGraphDefinition{}
	if name := inst.GetLabels()[metadata.ResourceGraphDefinitionNameLabel]; name != "" {
		u, err := c.dynamic.Resource(rgdGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return rgd, kruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, rgd)
	}
	list, err := c.dynamic.Resource(rgdGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	gvk := inst.GroupVersionKind()
	for _, u := range list.Items {
		if err := kruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, rgd); err != nil {
			continue
		}
		s := rgd.Spec.Schema
		group := s.Group
		if group == "" {
			group = "kro.run"
		}
		if s.Kind == gvk.Kind && group == gvk.Group {
			return rgd, nil
		}
	}
	return nil, apierrors.NewNotFound(rgdGVR.GroupResource(), "for kind "+gvk.Kind)
}

func printExplanation(w io.Writer, e *Explanation) {
	state := e.State
	if state == "" {
		state = "(no state yet)"
	}
	fmt.Fprintf(w, "%s (RGD %s): %s\n", e.Instance, e.RGD, state)
	if len(e.Conditions) > 0 {
		fmt.Fprintln(w, "Conditions:")
		for _, c := range e.Conditions {
			line := fmt.Sprintf("  %s=%s", c.Type, c.Status)
			if c.Reason != "" {
				line += " " + c.Reason
			}
			if c.Message != "" {
				line += ": " + c.Message
			}
			fmt.Fprintln(w, line)
		}
	}
	fmt.Fprintln(w, "Resources (creation order):")
	for _, r := range e.Resources {
		fmt.Fprintf(w, "  %s (%s): %s\n", r.ID, r.Kind, r.State)
		for _, obj := range r.Objects {
			fmt.Fprintf(w, "      object: %s\n", obj)
		}
		for _, rw := range r.ReadyWhen {
			fmt.Fprintf(w, "      readyWhen %s: %s\n", rw.Expression, rw.Value)
		}
		if len(r.WaitingOn) > 0 {
			fmt.Fprintf(w, "      waiting on: %s\n", strings.Join(r.WaitingOn, ", "))
		}
		if r.Reason != "" {
			fmt.Fprintf(w, "      reason: %s\n", oneLine(r.Reason))
		}
		if r.LastError != "" {
			fmt.Fprintf(w, "      last error: %s\n", oneLine(r.LastError))
		}
	}
}
