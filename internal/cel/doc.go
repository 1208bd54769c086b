// Package cel owns kro's CEL environment: which libraries expressions can use, how they are
// compiled and how a program is evaluated safely (cost limit, panic recovery) into JSON-safe
// Go values. It does not know about resources or graphs.
package cel
