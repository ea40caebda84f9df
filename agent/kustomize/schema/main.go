// Command gen writes schema.json: the strategic-merge metadata and the
// namespace scope of the built-in Kubernetes kinds exactly as kustomize
// v5.5.0 sees them, read from sigs.k8s.io/kustomize/kyaml@v0.18.1 (its
// embedded Kubernetes v1.21.2 OpenAPI document) in the Go module cache.
//
// Run through ./generate.sh; never edit schema.json by hand.
package main

import (
	"encoding/json"
	"os"
	"sort"
	"strings"

	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// node is one schema, reduced to what strategic merge reads.
type node struct {
	Ref        string           `json:"r,omitempty"`
	Props      map[string]*node `json:"p,omitempty"`
	Items      *node            `json:"i,omitempty"`
	Additional *node            `json:"a,omitempty"`
	Array      bool             `json:"l,omitempty"`
	Strategy   string           `json:"s,omitempty"`
	MergeKey   string           `json:"k,omitempty"`
	MapKeys    []string         `json:"m,omitempty"`
}

func reduce(s *spec.Schema) *node {
	if s == nil {
		return nil
	}
	n := &node{}
	if r := s.Ref.String(); r != "" {
		n.Ref = strings.TrimPrefix(r, "#/definitions/")
	}
	if len(s.Type) == 1 && s.Type[0] == "array" {
		n.Array = true
	}
	if v, ok := s.Extensions["x-kubernetes-patch-strategy"].(string); ok {
		n.Strategy = v
	}
	if v, ok := s.Extensions["x-kubernetes-patch-merge-key"].(string); ok {
		n.MergeKey = v
	}
	if v, ok := s.Extensions["x-kubernetes-list-map-keys"].([]interface{}); ok {
		for _, k := range v {
			if ks, ok := k.(string); ok {
				n.MapKeys = append(n.MapKeys, ks)
			}
		}
	}
	if len(s.Properties) > 0 {
		n.Props = map[string]*node{}
		for name, p := range s.Properties {
			p := p
			n.Props[name] = reduce(&p)
		}
	}
	if s.Items != nil && s.Items.Schema != nil {
		n.Items = reduce(s.Items.Schema)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		n.Additional = reduce(s.AdditionalProperties.Schema)
	}
	return n
}

type kind struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Definition string `json:"definition"`
	Namespaced *bool  `json:"namespaced,omitempty"`
}

func main() {
	root := openapi.Schema()
	defs := map[string]*node{}
	var kinds []kind
	for name, def := range root.Definitions {
		def := def
		defs[name] = reduce(&def)
		gvks, _ := def.Extensions["x-kubernetes-group-version-kind"].([]interface{})
		for _, g := range gvks {
			m, ok := g.(map[string]interface{})
			if !ok {
				continue
			}
			group, _ := m["group"].(string)
			version, _ := m["version"].(string)
			k, _ := m["kind"].(string)
			apiVersion := version
			if group != "" {
				apiVersion = group + "/" + version
			}
			entry := kind{APIVersion: apiVersion, Kind: k, Definition: name}
			if namespaced, found := openapi.IsNamespaceScoped(yaml.TypeMeta{APIVersion: apiVersion, Kind: k}); found {
				entry.Namespaced = &namespaced
			}
			kinds = append(kinds, entry)
		}
	}
	sort.Slice(kinds, func(i, j int) bool {
		if kinds[i].APIVersion != kinds[j].APIVersion {
			return kinds[i].APIVersion < kinds[j].APIVersion
		}
		return kinds[i].Kind < kinds[j].Kind
	})
	out := map[string]interface{}{
		"source":      "sigs.k8s.io/kustomize/kyaml@v0.18.1 openapi (Kubernetes " + openapi.GetSchemaVersion() + ")",
		"kinds":       kinds,
		"definitions": defs,
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
}
