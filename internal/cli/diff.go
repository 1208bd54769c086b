package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
)

// ObjectChange is what a diff found for one object.
type ObjectChange struct {
	// Instance is "Kind namespace/name" of the instance.
	Instance string `json:"instance"`
	// Resource is the node id.
	Resource string `json:"resource,omitempty"`
	// Object is "Kind namespace/name".
	Object string `json:"object"`
	// Action is Create, Update, Prune or Orphan.
	Action string `json:"action"`
	// Diff is the unified diff of the object, live to after the apply.
	Diff string `json:"diff,omitempty"`
}

func newDiffCommand(o *globalOptions) *cobra.Command {
	var files, instances []string
	var namespace string
	var pass passOptions
	cmd := &cobra.Command{
		Use:   "diff -f rgd.yaml [-i instance.yaml]",
		Short: "Show what applying an RGD (or an instance) would change in the cluster",
		Long: `diff runs the controller's pass for each affected instance against the cluster of your
kubeconfig, without changing anything: every object is applied with a server-side dry run, as
the controller applies it (field manager kro.run/applyset), and compared with the live object.
Objects of the instance's ApplySet that would no longer be desired are listed as pruned (or
orphaned, with deletionPolicy Orphan).

Without -i the affected instances are every instance of the kinds the RGDs define; with -i,
the given instances (live metadata such as the uid is taken from the cluster when they exist).
Resources that wait for others to be ready are listed as pending: the controller applies them
in a later pass.

Exit code 0 when nothing would change, 1 when something would.`,
		Example: `  kro diff -f examples/webapp/rgd.yaml
  kro diff -f rgd.yaml -i instance.yaml --context staging`,
		Args: exactArgs(0),
	}
	addFileFlag(cmd, &files, "RGDs")
	cmd.Flags().StringArrayVarP(&instances, "instance", "i", nil, "instances to diff instead of the live instances of the RGDs' kinds (repeatable)")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "default", "namespace of instances that do not set one")
	addPassFlags(cmd, &pass)
	out := addOutputFlag(cmd, "text", "json", "yaml")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		o.cluster = true
		rgds, err := o.loadValid(cmd, files)
		if err != nil {
			return err
		}
		k := rgds[0].kinds.cluster
		type target struct {
			g    *graph.Graph
			inst *unstructured.Unstructured
		}
		var targets []target
		problems := 0
		if len(instances) > 0 {
			docs, err := ReadDocuments(instances, o.stdin.Reader())
			if err != nil {
				return err
			}
			for _, d := range docs {
				if isDefinition(d) {
					continue
				}
				g := graphOf(rgds, d)
				if g == nil {
					apiVersion, kind := d.Kind()
					return inputErrorf("%s: no RGD of the input defines kind %s of apiVersion %s", d.Pos(), kind, apiVersion)
				}
				inst, ok, err := o.prepareInstance(cmd.Context(), g, d, namespace)
				if err != nil {
					return err
				}
				if !ok {
					problems++
					continue
				}
				if err := withLiveMetadata(cmd.Context(), k, g, inst); err != nil {
					return err
				}
				targets = append(targets, target{g, inst})
			}
		} else {
			for _, l := range rgds {
				list, err := k.dynamic.Resource(l.graph.Instance.GVR).List(cmd.Context(), metav1.ListOptions{})
				if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
					continue // the kind is not registered yet: no instances
				}
				if err != nil {
					return fmt.Errorf("listing %s: %w", l.graph.Instance.GVR.Resource, err)
				}
				for i := range list.Items {
					inst := &list.Items[i]
					delete(inst.Object, "status")
					if _, err := admit(cmd.Context(), l.graph.CRD, inst); err != nil {
						return err
					}
					targets = append(targets, target{l.graph, inst})
				}
			}
		}
		var changes []ObjectChange
		var notes []string
		for _, t := range targets {
			c, n, err := diffInstance(cmd.Context(), k, t.g, t.inst, pass)
			if err != nil {
				return err
			}
			changes = append(changes, c...)
			notes = append(notes, n...)
		}
		if out.value != "text" {
			if changes == nil {
				changes = []ObjectChange{}
			}
			if err := printStructured(o.streams.Out, out.value, changes); err != nil {
				return err
			}
		} else {
			printDiff(o.streams.Out, changes, notes, len(targets))
		}
		problems += len(changes)
		if problems > 0 {
			return &findingsError{n: problems}
		}
		return nil
	}
	return cmd
}

// withLiveMetadata takes the uid, labels and annotations of the live instance, if it exists,
// for what the file does not set: the controller works on the live instance.
func withLiveMetadata(ctx context.Context, k *clusterKinds, g *graph.Graph, inst *unstructured.Unstructured) error {
	ri := k.dynamic.Resource(g.Instance.GVR)
	var live *unstructured.Unstructured
	var err error
	if inst.GetNamespace() != "" {
		live, err = ri.Namespace(inst.GetNamespace()).Get(ctx, inst.GetName(), metav1.GetOptions{})
	} else {
		live, err = ri.Get(ctx, inst.GetName(), metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil
	}
	if err != nil {
		return err
	}
	inst.SetUID(live.GetUID())
	for _, m := range []struct {
		get func() map[string]string
		set func(map[string]string)
		liv map[string]string
	}{
		{inst.GetLabels, inst.SetLabels, live.GetLabels()},
		{inst.GetAnnotations, inst.SetAnnotations, live.GetAnnotations()},
	} {
		merged := map[string]string{}
		for k, v := range m.liv {
			merged[k] = v
		}
		for k, v := range m.get() {
			merged[k] = v
		}
		m.set(merged)
	}
	return nil
}

// diffInstance runs a dry-run pass for one instance and returns its changes and notes
// (pending and failed resources).
func diffInstance(ctx context.Context, k *clusterKinds, g *graph.Graph, inst *unstructured.Unstructured, opts passOptions) ([]ObjectChange, []string, error) {
	gvk := g.Instance.GVK
	name := gvk.Kind + " " + objectName(inst)
	src := &clusterSource{k: k, setID: metadata.ApplySetID(inst.GetName(), inst.GetNamespace(), gvk.Kind, gvk.Group), dryRun: true}
	nodes, _, err := renderPass(ctx, g, inst, src, opts)
	if err != nil {
		return nil, nil, err
	}
	var changes []ObjectChange
	var notes []string
	pending := map[string]bool{}
	for _, n := range nodes {
		switch n.State {
		case StatePending:
			pending[n.ID] = true
			notes = append(notes, fmt.Sprintf("%s: resource %q pending: %s", name, n.ID, oneLine(n.Reason)))
		case StateError:
			notes = append(notes, fmt.Sprintf("%s: resource %q error: %s", name, n.ID, oneLine(n.Reason)))
		}
		if n.Ready != nil && !*n.Ready {
			pending[n.ID] = true
		}
	}
	wanted := map[string]bool{}
	for _, a := range src.applies {
		key := a.desired.GetKind() + " " + objectName(a.desired)
		wanted[key] = true
		before, after := cleanForDiff(a.before), cleanForDiff(a.after)
		if before == after {
			continue
		}
		action := "Update"
		if a.before == nil {
			action = "Create"
		}
		changes = append(changes, ObjectChange{Instance: name, Resource: a.node, Object: key, Action: action, Diff: unified(key, before, after)})
	}
	owned, err := src.owned(ctx, g, inst)
	if err != nil {
		return nil, nil, err
	}
	sortObjects(owned)
	failed := false
	for _, n := range nodes {
		failed = failed || n.State == StateError
	}
	for _, obj := range owned {
		key := obj.GetKind() + " " + objectName(obj)
		// As the controller: objects of nodes still waiting are kept, and nothing is pruned
		// after a failed pass.
		if wanted[key] || pending[obj.GetLabels()[metadata.NodeIDLabel]] || failed {
			continue
		}
		action := "Prune"
		if v1alpha1.DeletionPolicy(obj.GetAnnotations()[metadata.DeletionPolicyAnnotation]).Orphans() {
			action = "Orphan"
		}
		c := ObjectChange{Instance: name, Resource: obj.GetLabels()[metadata.NodeIDLabel], Object: key, Action: action}
		if action == "Prune" {
			c.Diff = unified(key, cleanForDiff(obj), "")
		}
		changes = append(changes, c)
	}
	return changes, notes, nil
}

// cleanForDiff is the YAML of an object without what the API server changes on every write
// (resourceVersion, managedFields, generation, timestamps) and without status.
func cleanForDiff(u *unstructured.Unstructured) string {
	if u == nil {
		return ""
	}
	c := u.DeepCopy()
	delete(c.Object, "status")
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "creationTimestamp", "uid"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	raw, err := yaml.Marshal(c.Object)
	if err != nil {
		return err.Error()
	}
	return string(raw)
}

func unified(name, before, after string) string {
	from, to := "live/"+name, "kro/"+name
	if before == "" {
		from = "/dev/null"
	}
	if after == "" {
		to = "/dev/null"
	}
	s, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(before), B: difflib.SplitLines(after),
		FromFile: from, ToFile: to, Context: 3,
	})
	return s
}

func printDiff(w io.Writer, changes []ObjectChange, notes []string, instances int) {
	for _, c := range changes {
		fmt.Fprintf(w, "# %s: %s %s (resource %q)\n", c.Instance, strings.ToLower(c.Action), c.Object, c.Resource)
		if c.Action == "Orphan" {
			fmt.Fprintln(w, "#   deletionPolicy Orphan: kro's labels are removed, the object stays")
		}
		fmt.Fprint(w, c.Diff)
	}
	for _, n := range notes {
		fmt.Fprintf(w, "# %s\n", n)
	}
	if len(changes) == 0 {
		fmt.Fprintf(w, "# no changes (%d instances)\n", instances)
	}
}
