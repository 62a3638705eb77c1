package lambdatest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// shortForms are the YAML short forms of the intrinsic functions
// template.yaml uses, by their long form. Any other tag is an error: a
// function this reader does not render would otherwise reach the checks
// as a plain value, or vanish.
var shortForms = map[string]string{
	"!Ref":    "Ref",
	"!GetAtt": "Fn::GetAtt",
	"!Sub":    "Fn::Sub",
	"!If":     "Fn::If",
	"!Not":    "Fn::Not",
	"!Equals": "Fn::Equals",
}

// decodeCFN reads a CloudFormation template written in YAML as the plain
// values encoding/json decodes (map[string]any, []any, string, float64,
// bool, nil), each intrinsic function, in short or long form, replaced by
// its rendering (see Template).
func decodeCFN(data []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if err := longForms(&doc); err != nil {
		return nil, err
	}
	var v any
	if err := doc.Decode(&v); err != nil {
		return nil, err
	}
	// Through JSON, so that numbers are float64 and every key a string,
	// as the checks (and the template's JSON form) have them.
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var plain map[string]any
	if err := json.Unmarshal(b, &plain); err != nil {
		return nil, fmt.Errorf("template is not a mapping: %w", err)
	}
	params, _ := plain["Parameters"].(map[string]any)
	out, err := resolver{params: params}.resolve(plain, "")
	if err != nil {
		return nil, err
	}
	return out.(map[string]any), nil
}

// longForms rewrites each node tagged with a short form into its long
// form, a mapping of one key, as CloudFormation reads it: !Ref X is
// {Ref: X}, !Sub [s, vars] is {Fn::Sub: [s, vars]}.
func longForms(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode {
		return nil // rewritten where its anchor stands
	}
	for _, c := range n.Content {
		if err := longForms(c); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return nil
	}
	fn, ok := shortForms[n.Tag]
	if !ok {
		return fmt.Errorf("line %d: tag %s is not an intrinsic function this reader renders (%s)",
			n.Line, n.Tag, strings.Join(slices.Sorted(maps.Keys(shortForms)), " "))
	}
	arg := *n
	arg.Anchor = ""
	switch n.Kind {
	case yaml.ScalarNode:
		arg.Tag = "!!str"
	case yaml.SequenceNode:
		arg.Tag = "!!seq"
	default:
		return fmt.Errorf("line %d: %s takes a scalar or a list", n.Line, n.Tag)
	}
	*n = yaml.Node{
		Kind: yaml.MappingNode, Tag: "!!map", Anchor: n.Anchor, Line: n.Line, Column: n.Column,
		Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: fn}, &arg},
	}
	return nil
}

// resolver renders intrinsic functions; params are the template's
// Parameters, for a Ref to one with a default.
type resolver struct {
	params map[string]any
}

func (r resolver) resolve(v any, path string) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		for k, arg := range v {
			if k != "Ref" && !strings.HasPrefix(k, "Fn::") {
				continue
			}
			if len(v) != 1 {
				return nil, fmt.Errorf("%s: %s beside other keys is not an intrinsic function", path, k)
			}
			// Arguments first: !If [C, !Ref P, !Ref AWS::NoValue].
			arg, err := r.resolve(arg, path+"."+k)
			if err != nil {
				return nil, err
			}
			return r.intrinsic(k, arg, path)
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			x, err := r.resolve(x, join(path, k))
			if err != nil {
				return nil, err
			}
			out[k] = x
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			x, err := r.resolve(x, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	}
	return v, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// intrinsic renders function fn of the resolved argument arg.
func (r resolver) intrinsic(fn string, arg any, path string) (any, error) {
	list, _ := arg.([]any)
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			break
		}
		if name == "AWS::NoValue" {
			return nil, nil
		}
		if p, ok := r.params[name].(map[string]any); ok {
			if def, ok := p["Default"]; ok {
				return def, nil
			}
		}
		return "ref:" + name, nil
	case "Fn::GetAtt":
		if s, ok := arg.(string); ok && strings.Contains(s, ".") {
			return "getatt:" + s, nil
		}
		if len(list) == 2 {
			if id, ok := list[0].(string); ok {
				if attr, ok := list[1].(string); ok {
					return "getatt:" + id + "." + attr, nil
				}
			}
		}
	case "Fn::Sub":
		if s, ok := arg.(string); ok {
			return "sub:" + s, nil
		}
		if len(list) == 2 {
			_, text := list[0].(string)
			_, vars := list[1].(map[string]any)
			if text && vars {
				return fmt.Sprintf("sub:%v", list), nil
			}
		}
	case "Fn::If":
		if len(list) == 3 {
			if _, cond := list[0].(string); cond {
				return fmt.Sprintf("if:%v", list), nil
			}
		}
	case "Fn::Not":
		if len(list) == 1 {
			return fmt.Sprintf("not:%v", list), nil
		}
	case "Fn::Equals":
		if len(list) == 2 {
			return fmt.Sprintf("equals:%v", list), nil
		}
	default:
		return nil, fmt.Errorf("%s: %s is not an intrinsic function this reader renders", path, fn)
	}
	return nil, fmt.Errorf("%s: %s of %v: not a form CloudFormation accepts", path, fn, arg)
}
