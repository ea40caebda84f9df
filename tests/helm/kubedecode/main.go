// Command kubedecode reads manifests the way Helm's install applies them:
// the release manifest (and each hook's manifest) is a YAML stream that
// Kubernetes' resource builder splits with apimachinery's YAML reader,
// converts with sigs.k8s.io/yaml and decodes with apimachinery's JSON
// (integers as int64 when they fit, else float64). It is the test oracle's
// decoder, never part of plumb.
//
// Input (stdin): JSON {"name": "YAML stream", ...}.
// Output (stdout): JSON {"name": {"ok": [objects]} or {"err": message}}.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"

	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

func decode(stream string) ([]interface{}, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewBufferString(stream), 4096)
	objects := []interface{}{}
	for {
		// runtime.RawExtension keeps the raw JSON of a document, as json.RawMessage does.
		var raw json.RawMessage
		if err := decoder.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return objects, nil
			}
			return objects, err
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		var object interface{}
		if err := utiljson.Unmarshal(raw, &object); err != nil {
			return objects, err
		}
		objects = append(objects, object)
	}
}

func main() {
	var streams map[string]string
	if err := json.NewDecoder(os.Stdin).Decode(&streams); err != nil {
		panic(err)
	}
	out := map[string]map[string]interface{}{}
	for name, stream := range streams {
		objects, err := decode(stream)
		if err != nil {
			out[name] = map[string]interface{}{"err": err.Error()}
		} else {
			out[name] = map[string]interface{}{"ok": objects}
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		panic(err)
	}
}
