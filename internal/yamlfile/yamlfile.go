// Package yamlfile decodes the files people write by hand (the contacts
// file, the rule files) strictly: an unknown key, a value of the wrong type
// or broken YAML is an error that names the file, the line and the key's
// dotted path ("routes[2].match.src"), so the author finds it at once.
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type`)
	lineMsg      = regexp.MustCompile(`^line (\d+): (.*)$`)
)

// Decode parses b, the content of the file at path, into v, refusing
// unknown keys, and returns the document's node tree so that the caller
// can place its own checks' problems (KeyAt). Each error reads
// "COMPONENT: PATH:LINE: KEY: problem"; several are joined.
func Decode(component, path string, b []byte, v any) (*yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := lineMsg.FindStringSubmatch(msg); m != nil {
			return nil, fmt.Errorf("%s: %s:%s: %s", component, path, m[1], m[2])
		}
		return nil, fmt.Errorf("%s: %s: %s", component, path, msg)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return nil, decodeError(component, path, &root, err)
	}
	return &root, nil
}

// decodeError rewrites yaml's decoding errors ("line 7: field foo not
// found in type notify.fileRoute") as PATH:LINE: KEY: problem.
func decodeError(component, path string, root *yaml.Node, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("%s: %s: %s", component, path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var out []error
	for _, e := range te.Errors {
		if m := unknownField.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			out = append(out, fmt.Errorf("%s: %s:%d: %s: unknown key", component, path, line, KeyAt(root, line, m[2])))
			continue
		}
		if m := lineMsg.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			out = append(out, fmt.Errorf("%s: %s:%d: %s: %s", component, path, line, KeyAt(root, line, ""), m[2]))
			continue
		}
		out = append(out, fmt.Errorf("%s: %s: %s", component, path, e))
	}
	return errors.Join(out...)
}

// KeyAt finds the key on line (named name, when given) and returns its
// dotted path, "routes[2].match.src"; name alone when none is found.
func KeyAt(root *yaml.Node, line int, name string) string {
	var found string
	var walk func(n *yaml.Node, path string) bool
	walk = func(n *yaml.Node, path string) bool {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if walk(c, path) {
					return true
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := JoinKey(path, k.Value)
				if k.Line == line && (name == "" || k.Value == name) {
					found = p
					return true
				}
				if walk(v, p) {
					return true
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := path + "[" + strconv.Itoa(i) + "]"
				if c.Line == line && c.Kind == yaml.ScalarNode && name == "" {
					found = p
					return true
				}
				if walk(c, p) {
					return true
				}
			}
		}
		return false
	}
	walk(root, "")
	if found == "" {
		return name
	}
	return found
}

// JoinKey appends key k to a dotted path.
func JoinKey(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}
