package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// Document is one YAML document of an input file, with the positions of its nodes.
type Document struct {
	// Source names the file ("<stdin>" for -).
	Source string
	// Node is the document's root mapping; its Line is the line of the first key.
	Node *yamlv3.Node
	// Object is the document as JSON values, as the API server would decode it.
	Object map[string]any
	// JSON is the document in JSON.
	JSON []byte
}

// Kind returns the apiVersion and kind of the document.
func (d *Document) Kind() (apiVersion, kind string) {
	apiVersion, _ = d.Object["apiVersion"].(string)
	kind, _ = d.Object["kind"].(string)
	return apiVersion, kind
}

// Pos is "file:line" of a node path in the document (keys of mappings, indexes of
// sequences): the deepest node of the path that exists.
func (d *Document) Pos(path ...string) string {
	return fmt.Sprintf("%s:%d", d.Source, d.Line(path...))
}

// Line is the line of the deepest node of path that exists in the document.
func (d *Document) Line(path ...string) int {
	n := d.Node
	line := n.Line
	for _, p := range path {
		next, keyLine := child(n, p)
		if next == nil {
			break
		}
		n = next
		line = keyLine
	}
	return line
}

// child returns the value of key p in a mapping (and the key's line) or the element at index
// p of a sequence (and its line).
func child(n *yamlv3.Node, p string) (*yamlv3.Node, int) {
	switch n.Kind {
	case yamlv3.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				return n.Content[i+1], n.Content[i].Line
			}
		}
	case yamlv3.SequenceNode:
		i, err := strconv.Atoi(p)
		if err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i].Line
		}
	}
	return nil, 0
}

// InputError is an error reading or parsing the input: exit code 2.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...)}
}

// ReadDocuments reads the YAML or JSON documents of files, directories (their .yaml, .yml
// and .json files, recursively, in lexical order) and "-" (stdin, read once).
func ReadDocuments(paths []string, stdin io.Reader) ([]*Document, error) {
	var docs []*Document
	for _, p := range paths {
		if p == "-" {
			raw, err := io.ReadAll(stdin)
			if err != nil {
				return nil, inputErrorf("reading stdin: %w", err)
			}
			d, err := parseDocuments("<stdin>", raw)
			if err != nil {
				return nil, err
			}
			docs = append(docs, d...)
			continue
		}
		files, err := expand(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				return nil, inputErrorf("%w", err)
			}
			d, err := parseDocuments(f, raw)
			if err != nil {
				return nil, err
			}
			docs = append(docs, d...)
		}
	}
	return docs, nil
}

// expand lists the manifest files of a path.
func expand(p string) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, inputErrorf("%w", err)
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, path)
			}
		}
		return nil
	})
	if err != nil {
		return nil, inputErrorf("%w", err)
	}
	sort.Strings(files)
	return files, nil
}

// parseDocuments splits raw into its non-empty documents.
func parseDocuments(source string, raw []byte) ([]*Document, error) {
	dec := yamlv3.NewDecoder(bytes.NewReader(raw))
	var docs []*Document
	for {
		var root yamlv3.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, inputErrorf("%s: %w", source, err)
		}
		if len(root.Content) == 0 || root.Content[0].Kind == yamlv3.ScalarNode && root.Content[0].Tag == "!!null" {
			continue
		}
		n := root.Content[0]
		if n.Kind != yamlv3.MappingNode {
			return nil, inputErrorf("%s:%d: a document must be an object", source, n.Line)
		}
		// Re-encoded and decoded the way kubectl does (sigs.k8s.io/yaml), so that values are
		// what the API server would receive.
		out, err := yamlv3.Marshal(n)
		if err != nil {
			return nil, inputErrorf("%s:%d: %w", source, n.Line, err)
		}
		js, err := yaml.YAMLToJSON(out)
		if err != nil {
			return nil, inputErrorf("%s:%d: %w", source, n.Line, err)
		}
		obj := map[string]any{}
		// apimachinery's decoder keeps integers as int64, as the API server does.
		if err := json.Unmarshal(js, &obj); err != nil {
			return nil, inputErrorf("%s:%d: %w", source, n.Line, err)
		}
		docs = append(docs, &Document{Source: source, Node: n, Object: obj, JSON: js})
	}
}
