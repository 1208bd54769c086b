package cli

import (
	"regexp"
	"strconv"
	"strings"
)

// Finding is one problem (or warning) found in an input, at a line.
type Finding struct {
	File string `json:"file"`
	Line int    `json:"line"`
	// Resource and Field are the resource id and field path the message names, when it does.
	Resource string `json:"resource,omitempty"`
	Field    string `json:"field,omitempty"`
	// Message is the complete message, on one line.
	Message string `json:"message"`
}

// String is "file:line: message".
func (f Finding) String() string {
	return f.File + ":" + strconv.Itoa(f.Line) + ": " + f.Message
}

var (
	resourcePrefix   = regexp.MustCompile(`^resource "([^"]*)"(?::? (?:field|forEach|includeWhen|readyWhen) "([^"]*)")?`)
	resourceIndex    = regexp.MustCompile(`^spec\.resources\[(\d+)\]`)
	statusField      = regexp.MustCompile(`^spec\.schema\.status field "([^"]*)"`)
	schemaField      = regexp.MustCompile(`^spec\.schema(?:\.(spec|types|status))?: (?:field|type) "([^"]*)"`)
	schemaKey        = regexp.MustCompile(`^spec\.schema\.([A-Za-z]+)`)
	cycle            = regexp.MustCompile(`cycle: ([a-zA-Z0-9]+) ->`)
	unknownField     = regexp.MustCompile(`^unknown field "([^"]*)"`)
	pathElem         = regexp.MustCompile(`[^.\[\]]+|\[\d+\]`)
	celSnippetPrefix = " | "
)

// findings splits a build error into one finding per problem, each at the line of the RGD
// document that the message names: the resource's entry, the schema field, or the document.
func findings(doc *Document, err error) []Finding {
	var out []Finding
	for _, e := range split(err) {
		out = append(out, locate(doc, oneLine(e.Error())))
	}
	return out
}

// split unwraps joined errors.
func split(err error) []error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, split(e)...)
		}
		return out
	}
	return []error{err}
}

// oneLine drops CEL's source snippets (" | expr", " | ...^") and joins the other lines.
func oneLine(msg string) string {
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		if strings.HasPrefix(l, celSnippetPrefix) || strings.TrimSpace(l) == "" {
			continue
		}
		parts = append(parts, strings.TrimSpace(l))
	}
	return strings.Join(parts, "; ")
}

// locate finds the line a message is about.
func locate(doc *Document, msg string) Finding {
	f := Finding{File: doc.Source, Message: msg}
	switch {
	case resourcePrefix.MatchString(msg):
		m := resourcePrefix.FindStringSubmatch(msg)
		f.Resource, f.Field = m[1], m[2]
		f.Line = doc.Line("spec", "resources", strconv.Itoa(resourceIndexOf(doc, m[1])))
	case cycle.MatchString(msg):
		f.Resource = cycle.FindStringSubmatch(msg)[1]
		f.Line = doc.Line("spec", "resources", strconv.Itoa(resourceIndexOf(doc, f.Resource)))
	case resourceIndex.MatchString(msg):
		f.Line = doc.Line("spec", "resources", resourceIndex.FindStringSubmatch(msg)[1])
	case statusField.MatchString(msg):
		path := statusField.FindStringSubmatch(msg)[1]
		f.Field = "status." + path
		f.Line = doc.Line(append([]string{"spec", "schema", "status"}, splitPath(path)...)...)
	case schemaField.MatchString(msg):
		// SimpleSchema names fields from the schema root: "spec.x", "types.T".
		path := schemaField.FindStringSubmatch(msg)[2]
		f.Field = path
		f.Line = doc.Line(append([]string{"spec", "schema"}, splitPath(path)...)...)
	case schemaKey.MatchString(msg):
		f.Line = doc.Line("spec", "schema", schemaKey.FindStringSubmatch(msg)[1])
	case unknownField.MatchString(msg):
		path := unknownField.FindStringSubmatch(msg)[1]
		f.Field = path
		f.Line = doc.Line(splitPath(path)...)
	case strings.HasPrefix(msg, "spec.schema"):
		f.Line = doc.Line("spec", "schema")
	case strings.HasPrefix(msg, "metadata"):
		f.Line = doc.Line("metadata")
	default:
		f.Line = doc.Line("spec")
	}
	return f
}

// resourceIndexOf is the index of the resource with id in the document; -1 when none.
func resourceIndexOf(doc *Document, id string) int {
	spec, _ := doc.Object["spec"].(map[string]any)
	resources, _ := spec["resources"].([]any)
	for i, r := range resources {
		if m, ok := r.(map[string]any); ok && m["id"] == id {
			return i
		}
	}
	return -1
}

// splitPath splits "a.b[0].c" into "a", "b", "0", "c".
func splitPath(path string) []string {
	var out []string
	for _, e := range pathElem.FindAllString(path, -1) {
		out = append(out, strings.Trim(e, "[]"))
	}
	return out
}
