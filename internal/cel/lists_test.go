package cel

import "testing"

func TestListsLibrary(t *testing.T) {
	cases := map[string]exprCase{
		"SetAtIndex": {
			reason: "the element at the index is replaced",
			expr:   `lists.setAtIndex([1, 2, 3], 1, 99)`,
			want:   []any{int64(1), int64(99), int64(3)},
		},
		"SetAtIndexLast": {
			reason: "the last index is in range",
			expr:   `lists.setAtIndex(v.tags, 2, "z")`,
			want:   []any{"a", "b", "z"},
		},
		"SetAtIndexLeavesInput": {
			reason: "the input list is unchanged",
			expr:   `cel.bind(l, [1, 2], [lists.setAtIndex(l, 0, 9), l])`,
			want:   []any{[]any{int64(9), int64(2)}, []any{int64(1), int64(2)}},
		},
		"SetAtIndexSwap": {
			reason: "the reference's documented swap",
			expr:   `lists.setAtIndex(lists.setAtIndex(v.tags, 0, v.tags[1]), 1, v.tags[0])`,
			want:   []any{"b", "a", "c"},
		},
		"SetAtIndexAtSize": {
			reason:  "setting at size is out of range",
			expr:    `lists.setAtIndex([1, 2, 3], 3, 9)`,
			wantErr: "lists.setAtIndex: index 3 is outside [0, 3)",
		},
		"SetAtIndexNegative": {
			reason:  "a negative index is out of range",
			expr:    `lists.setAtIndex([1], -1, 9)`,
			wantErr: "lists.setAtIndex: index -1 is outside [0, 1)",
		},
		"SetAtIndexWrongElementType": {
			reason:  "the value has the list's element type",
			expr:    `lists.setAtIndex([1, 2], 0, "x")`,
			wantErr: "found no matching overload for 'lists.setAtIndex'",
		},
		"InsertAtIndex": {
			reason: "the value goes before the element at the index",
			expr:   `lists.insertAtIndex([1, 2, 3], 1, 99)`,
			want:   []any{int64(1), int64(99), int64(2), int64(3)},
		},
		"InsertAtIndexFront": {
			reason: "index 0 prepends",
			expr:   `lists.insertAtIndex(v.tags, 0, "z")`,
			want:   []any{"z", "a", "b", "c"},
		},
		"InsertAtIndexAppend": {
			reason: "index == size appends",
			expr:   `lists.insertAtIndex([1, 2, 3], 3, 99)`,
			want:   []any{int64(1), int64(2), int64(3), int64(99)},
		},
		"InsertAtIndexEmpty": {
			reason: "inserting into an empty list",
			expr:   `lists.insertAtIndex([], 0, 1)`,
			want:   []any{int64(1)},
		},
		"InsertAtIndexPastSize": {
			reason:  "an index past size is out of range",
			expr:    `lists.insertAtIndex([1, 2, 3], 4, 99)`,
			wantErr: "lists.insertAtIndex: index 4 is outside [0, 3]",
		},
		"InsertAtIndexNegative": {
			reason:  "a negative index is out of range",
			expr:    `lists.insertAtIndex([1], -1, 9)`,
			wantErr: "is outside [0, 1]",
		},
		"RemoveAtIndex": {
			reason: "the element at the index is removed",
			expr:   `lists.removeAtIndex([1, 2, 3], 1)`,
			want:   []any{int64(1), int64(3)},
		},
		"RemoveAtIndexFirstAndLast": {
			reason: "the first and the last element",
			expr:   `[lists.removeAtIndex(v.tags, 0), lists.removeAtIndex(v.tags, 2)]`,
			want:   []any{[]any{"b", "c"}, []any{"a", "b"}},
		},
		"RemoveAtIndexOnly": {
			reason: "removing the only element leaves an empty list",
			expr:   `lists.removeAtIndex(["x"], 0)`,
			want:   []any{},
		},
		"RemoveAtIndexEmpty": {
			reason:  "nothing can be removed from an empty list",
			expr:    `lists.removeAtIndex([], 0)`,
			wantErr: "lists.removeAtIndex: index 0 is outside [0, 0)",
		},
		"RemoveAtIndexAtSize": {
			reason:  "removing at size is out of range",
			expr:    `lists.removeAtIndex(schema.spec.ports, 2)`,
			wantErr: "index 2 is outside [0, 2)",
		},
		"DynNotAList": {
			reason:  "a dyn first argument that is not a list fails at runtime",
			expr:    `lists.removeAtIndex(v.n, 0)`,
			wantErr: "no such overload",
		},
		"StringIndex": {
			reason:  "the index is an int",
			expr:    `lists.removeAtIndex([1], "0")`,
			wantErr: "found no matching overload for 'lists.removeAtIndex'",
		},
	}
	runExprCases(t, libraryEnv(t), libraryVars(), cases)
}
