// Package intern makes the objects kro keeps in its informer caches share the strings they have
// in common. A decoded object owns a copy of every field name, label key and value, condition
// reason and message; thousands of children of one graph hold the same ones. Interning them in
// place, as the cache receives each object, keeps one copy. It does not decide what is cached,
// and it never changes an object's content.
package intern
