package cel

import (
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
)

func runtimeEnv(t *testing.T, vars ...string) *cel.Env {
	t.Helper()
	env, err := NewEnv(DynVariables(vars...)...)
	if err != nil {
		t.Fatalf("NewEnv(...): %v", err)
	}
	if env, err = env.Extend(RuntimeLibrary()); err != nil {
		t.Fatalf("Extend(RuntimeLibrary()): %v", err)
	}
	return env
}

func runtimeVars() map[string]any {
	return map[string]any{
		"schema": map[string]any{
			"metadata": map[string]any{"name": "app"},
			"status": map[string]any{
				"conditions": []any{
					map[string]any{"type": "ResourcesReady", "status": "True", "reason": "AllReady", "message": "ok"},
					map[string]any{"type": "GraphResolved", "status": "False"},
				},
			},
		},
		"deployment": map[string]any{
			"status": map[string]any{"readyReplicas": int64(2)},
		},
		"bad": map[string]any{
			"status": map[string]any{"conditions": "nope"},
		},
	}
}

func cond(typ, status, reason, message string) map[string]any {
	return map[string]any{"type": typ, "status": status, "reason": reason, "message": message}
}

func TestRuntimeLibrary(t *testing.T) {
	cases := map[string]exprCase{
		"NewConditionBareKeys": {
			reason: "the reference's form: bare identifier keys",
			expr:   `runtime.newCondition({type: 'AppReady', status: 'True', reason: 'Replicas', message: 'up'})`,
			want:   cond("AppReady", "True", "Replicas", "up"),
		},
		"NewConditionQuotedKeys": {
			reason: "quoted keys work as well",
			expr:   `runtime.newCondition({"type": "AppReady", "status": "False", "reason": "R", "message": ""})`,
			want:   cond("AppReady", "False", "R", ""),
		},
		"NewConditionDefaults": {
			reason: "reason and message default to the empty string",
			expr:   `runtime.newCondition({type: 'A', status: 'Unknown'})`,
			want:   cond("A", "Unknown", "", ""),
		},
		"NewConditionComputed": {
			reason: "values are expressions over the data",
			expr:   `runtime.newCondition({type: 'AppReady', status: deployment.status.readyReplicas > 0 ? 'True' : 'False', reason: 'ReplicaCount', message: ''})`,
			want:   cond("AppReady", "True", "ReplicaCount", ""),
		},
		"NewConditionFieldAccess": {
			reason: "the condition's fields can be read",
			expr:   `runtime.newCondition({type: 'A', status: 'True'}).status`,
			want:   "True",
		},
		"NewConditionInComprehension": {
			reason: "one condition per element of a list",
			expr:   `[1, 2].map(i, runtime.newCondition({type: 'Item' + string(i), status: 'True'}))`,
			want:   []any{cond("Item1", "True", "", ""), cond("Item2", "True", "", "")},
		},
		"NewConditionUnknownKey": {
			reason:  "only type, status, reason and message are allowed",
			expr:    `runtime.newCondition({type: 'A', status: 'True', severity: 'x'})`,
			wantErr: `runtime.newCondition: unknown key "severity"`,
		},
		"NewConditionDuplicateKey": {
			reason:  "each key once",
			expr:    `runtime.newCondition({type: 'A', "type": 'B', status: 'True'})`,
			wantErr: `runtime.newCondition: duplicate key "type"`,
		},
		"NewConditionMissingType": {
			reason:  "type is required",
			expr:    `runtime.newCondition({status: 'True'})`,
			wantErr: `runtime.newCondition: "type" is required`,
		},
		"NewConditionMissingStatus": {
			reason:  "status is required",
			expr:    `runtime.newCondition({type: 'A'})`,
			wantErr: `runtime.newCondition: "status" is required`,
		},
		"NewConditionComputedKey": {
			reason:  "keys are written out, not computed",
			expr:    `runtime.newCondition({'ty' + 'pe': 'A', status: 'True'})`,
			wantErr: "runtime.newCondition: keys must be type, status, reason or message",
		},
		"NewConditionBadStatus": {
			reason:  "status is True, False or Unknown",
			expr:    `runtime.newCondition({type: 'A', status: deployment.status.readyReplicas > 0 ? 'Yes' : 'No'})`,
			wantErr: `runtime.newCondition: status must be True, False or Unknown, got "Yes"`,
		},
		"NewConditionEmptyType": {
			reason:  "type must not be empty",
			expr:    `runtime.newCondition({type: '', status: 'True'})`,
			wantErr: "runtime.newCondition: type must not be empty",
		},
		"NewConditionNonStringValue": {
			reason:  "every value is a string",
			expr:    `runtime.newCondition({type: 'A', status: 'True', message: deployment.status.readyReplicas})`,
			wantErr: "runtime.newCondition: message is int, expected string",
		},
		"NewConditionNonStringLiteral": {
			reason:  "a literal value of another type is rejected at parse time",
			expr:    `runtime.newCondition({type: 'A', status: true})`,
			wantErr: "runtime.newCondition: status must be a string",
		},
		"NewConditionNotALiteral": {
			reason:  "a map that is not a literal is checked at runtime",
			expr:    `runtime.newCondition(deployment.status)`,
			wantErr: "runtime.newCondition: unknown key readyReplicas",
		},
		"Condition": {
			reason: "the condition of the type, with all four keys",
			expr:   `runtime.condition(schema, 'GraphResolved')`,
			want:   cond("GraphResolved", "False", "", ""),
		},
		"ConditionStatus": {
			reason: "the reference's documented use",
			expr:   `runtime.condition(schema, 'ResourcesReady').status == 'True' && deployment.status.readyReplicas > 0`,
			want:   true,
		},
		"ConditionNotFound": {
			reason: "a missing condition is an empty condition, as in the reference",
			expr:   `runtime.condition(schema, 'Nope')`,
			want:   cond("", "", "", ""),
		},
		"ConditionNoStatus": {
			reason: "an object without status has no conditions",
			expr:   `runtime.condition(schema.metadata, 'Ready').status == 'True'`,
			want:   false,
		},
		"ConditionNoConditions": {
			reason: "a status without conditions has no conditions",
			expr:   `runtime.condition(deployment, 'Available')`,
			want:   cond("", "", "", ""),
		},
		"ConditionsNotAList": {
			reason:  "conditions of the wrong shape are an error",
			expr:    `runtime.condition(bad, 'Ready')`,
			wantErr: "runtime.condition: status.conditions is string, expected a list",
		},
		"ConditionNotAnObject": {
			reason:  "the object is a map",
			expr:    `runtime.condition(deployment.status.readyReplicas, 'Ready')`,
			wantErr: "runtime.condition: object is int, expected an object",
		},
	}
	runExprCases(t, runtimeEnv(t, "schema", "deployment", "bad"), runtimeVars(), cases)
}

func TestRuntimeLibraryWithRuntimeVariable(t *testing.T) {
	cases := map[string]exprCase{
		"NewCondition": {
			reason: "a declared runtime variable does not hide the namespaced functions",
			expr:   `runtime.newCondition({type: 'A', status: 'True'})`,
			want:   cond("A", "True", "", ""),
		},
		"Condition": {
			reason: "a declared runtime variable does not hide the namespaced functions",
			expr:   `runtime.condition(schema, 'ResourcesReady').reason`,
			want:   "AllReady",
		},
	}
	vars := runtimeVars()
	vars["runtime"] = map[string]any{}
	runExprCases(t, runtimeEnv(t, "schema", "runtime"), vars, cases)
}

func TestRuntimeLibraryNotDefault(t *testing.T) {
	env, err := NewEnv(DynVariables("schema")...)
	if err != nil {
		t.Fatalf("NewEnv(...): %v", err)
	}
	for _, expr := range []string{
		`runtime.newCondition({"type": "A", "status": "True"})`,
		`runtime.condition(schema, "Ready")`,
	} {
		if _, err := Compile(env, expr); err == nil || !strings.Contains(err.Error(), "undeclared reference") {
			t.Errorf("Compile(%q) without RuntimeLibrary: want an undeclared reference error, got %v", expr, err)
		}
	}
}
