// Package memory returns to the operating system the memory a burst of work left behind, once
// kro has gone quiet. The Go runtime grows the heap to twice what is live while kro works (the
// default GOGC) and keeps those pages until a later collection, which an idle process does not
// run for minutes: without this, kro holds its peak for that long after every burst of
// instances. It does not change how garbage is collected while kro works (GOGC and GOMEMLIMIT
// do), and it does nothing while kro allocates.
package memory
