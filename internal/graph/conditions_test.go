package graph

import (
	"context"
	"strings"
	"testing"
)

// cond is a runtime.newCondition call with a literal type and status.
func cond(typ, status string) string {
	return `runtime.newCondition({type: '` + typ + `', status: '` + status + `', reason: '', message: ''})`
}

// condReading is a condition of type typ whose status is that of condition read on obj.
func condReading(typ, obj, read string) string {
	return `runtime.newCondition({type: '` + typ + `', status: runtime.condition(` + obj + `, '` + read + `').status == 'True' ? 'True' : 'False', reason: '', message: ''})`
}

// TestBuildConditionRules checks the reference kro's static rules for custom status
// conditions: lookups on schema read only kro's built-in types, no two entries declare the
// same literal type, literal statuses and types are valid.
func TestBuildConditionRules(t *testing.T) {
	cases := map[string]struct {
		reason     string
		conditions []string
		want       []string // substrings of the error; none means the RGD builds
	}{
		"WellFormed": {
			reason:     "distinct literal types with valid statuses",
			conditions: []string{cond("A", "True"), cond("B", "False"), cond("C", "Unknown")},
		},
		"BuiltinLookup": {
			reason:     "runtime.condition(schema, 'ResourcesReady') reads kro's built-in condition",
			conditions: []string{cond("PrimaryReady", "True"), condReading("Ready", "schema", "ResourcesReady")},
		},
		"BuiltinLookupWhenAuthorOverridesIt": {
			reason:     "a built-in type stays readable even when an entry declares the same type",
			conditions: []string{cond("ResourcesReady", "True"), condReading("DerivedReady", "schema", "ResourcesReady")},
		},
		"ChildResourceLookup": {
			reason:     "conditions of other objects may have any type, also one an entry declares",
			conditions: []string{cond("Available", "True"), condReading("Mirror", "deployment", "Available")},
		},
		"ComputedLookup": {
			reason:     "a computed type is looked up at evaluation time",
			conditions: []string{cond("A", "True"), `runtime.newCondition({type: 'B', status: runtime.condition(schema, schema.spec.name).status == 'True' ? 'True' : 'False'})`},
		},
		"ComputedStatus": {
			reason:     "a computed status is checked at evaluation time",
			conditions: []string{`runtime.newCondition({type: 'A', status: schema.spec.version})`},
		},
		"SameTypeInOneEntry": {
			reason:     "one entry may declare a type in both branches of a ternary",
			conditions: []string{`schema.spec.replicas > 1 ? ` + cond("AppReady", "True") + ` : ` + cond("AppReady", "False")},
		},
		"SelfReference": {
			reason:     "a lookup on schema of a type an entry declares is refused: custom conditions cannot reference each other",
			conditions: []string{cond("PrimaryReady", "True"), condReading("Ready", "schema", "PrimaryReady")},
			want: []string{
				`spec.schema.status.conditions[1]: runtime.condition(schema, "PrimaryReady"): custom conditions cannot reference each other`,
				`in expression "runtime.newCondition({type: 'Ready', status: runtime.condition(schema, 'PrimaryReady')`,
			},
		},
		"SelfReferenceInOwnEntry": {
			reason:     "an entry cannot read the type it declares",
			conditions: []string{condReading("Loop", "schema", "Loop")},
			want:       []string{`spec.schema.status.conditions[0]: runtime.condition(schema, "Loop"): custom conditions cannot reference each other`},
		},
		"UnknownLookup": {
			reason:     "a literal lookup on schema of a type that is not built in is a typo",
			conditions: []string{condReading("Derived", "schema", "ResourcesRaedy")},
			want: []string{
				`spec.schema.status.conditions[0]: runtime.condition(schema, "ResourcesRaedy"): unknown condition type`,
				`InstanceManaged, GraphResolved, ResourcesReady, Ready`,
			},
		},
		"DuplicateType": {
			reason:     "two entries may not declare the same literal type",
			conditions: []string{cond("AppReady", "True"), cond("Other", "True"), cond("AppReady", "False")},
			want:       []string{`spec.schema.status.conditions[2]: condition type "AppReady" is declared by more than one conditions entry (also by conditions[0]) in expression "runtime.newCondition({type: 'AppReady', status: 'False'`},
		},
		"DuplicateTypeInBranch": {
			reason:     "the duplicate rule does not look at which branch runs",
			conditions: []string{`schema.spec.replicas > 1 ? ` + cond("Primary", "True") + ` : ` + cond("Replica", "True"), cond("Primary", "False")},
			want:       []string{`spec.schema.status.conditions[1]: condition type "Primary" is declared by more than one conditions entry`},
		},
		"InvalidLiteralStatus": {
			reason:     "a literal status must be True, False or Unknown",
			conditions: []string{cond("X", "YES")},
			want:       []string{`spec.schema.status.conditions[0]: runtime.newCondition: status must be one of True, False, Unknown (got "YES") in expression`},
		},
		"InvalidLiteralStatusInComprehension": {
			reason:     "literal statuses are checked inside comprehensions too",
			conditions: []string{`members.map(m, runtime.newCondition({type: m.metadata.name, status: 'BAD'}))`},
			want:       []string{`status must be one of True, False, Unknown (got "BAD")`},
		},
		"EmptyLiteralType": {
			reason:     "a literal type must not be empty",
			conditions: []string{cond("", "True")},
			want:       []string{`spec.schema.status.conditions[0]: runtime.newCondition: type must not be empty in expression`},
		},
	}
	b := NewBuilder(referenceMapper(), WithSchemaResolver(referenceSchemas(t)))
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := b.Build(context.Background(), referenceRGD(t, "status", "schema.spec.name", tc.conditions...))
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("%s\nBuild(...): %v", tc.reason, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("%s\nBuild(...): want error containing %q, got none", tc.reason, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s\nBuild(...) error:\n got: %v\nwant: ...%s...", tc.reason, err, w)
				}
			}
		})
	}
}
