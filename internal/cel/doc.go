// Package cel owns kro's CEL environment: which libraries expressions can use, how they are
// compiled and how a program is evaluated safely (cost limit, panic recovery) into JSON-safe
// Go values. It does not know about resources or graphs.
//
// Besides the cel-go and Kubernetes libraries, every environment has kro's own, one
// cel.Library per file: hash (hash.go), json (json.go), random (random.go), map merging
// (maps.go), list index edits (lists.go) and omit() (omit.go). The runtime functions of status
// conditions (runtime.go) are added only where asked for, with RuntimeLibrary. Each function
// has a static cost estimate and a runtime cost (cost.go). The runtime cost limit is the real
// bound; CompileWithLimits refuses only an expression that costs more than it on any input
// and otherwise warns (Program.Warning) when the estimated worst case is high. Every
// evaluation is counted by result and its runtime cost observed (package metrics:
// kro_cel_evaluations_total, kro_cel_evaluation_cost).
package cel
