// Command go-yaml is the go-yaml reference of plumb's YAML benchmark
// (agent/benches/yaml.rs): sigs.k8s.io/yaml, the library Helm and kubectl
// read and write manifests with, timed on the benchmark's own text.
//
// It prints JSON: medians in milliseconds of
//   - parse: the text split into documents on "---" lines, each read with
//     yaml.Unmarshal (as Helm reads a chart's rendered manifests);
//   - print: yaml.Marshal of each document (Helm's toYaml of one object);
//   - to_yaml: yaml.Marshal of all documents as one list.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"time"

	"sigs.k8s.io/yaml"
)

// Helm's releaseutil.SplitManifests separator.
var separator = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

func median(samples []float64) float64 {
	sort.Float64s(samples)
	return samples[len(samples)/2]
}

func timeMs(iterations int, f func() error) (float64, error) {
	samples := make([]float64, 0, iterations)
	for i := 0; i < iterations; i++ {
		start := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		samples = append(samples, time.Since(start).Seconds()*1000)
	}
	return median(samples), nil
}

func parse(text string) ([]any, error) {
	var docs []any
	for _, doc := range separator.Split(text, -1) {
		var v any
		if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
			return nil, err
		}
		if v != nil {
			docs = append(docs, v)
		}
	}
	return docs, nil
}

func run() error {
	if len(os.Args) != 3 {
		return fmt.Errorf("usage: go-yaml FILE ITERATIONS")
	}
	text, err := os.ReadFile(os.Args[1])
	if err != nil {
		return err
	}
	iterations, err := strconv.Atoi(os.Args[2])
	if err != nil || iterations < 1 {
		return fmt.Errorf("iterations: %q", os.Args[2])
	}
	docs, err := parse(string(text))
	if err != nil {
		return err
	}
	parseMs, err := timeMs(iterations, func() error { _, err := parse(string(text)); return err })
	if err != nil {
		return err
	}
	printMs, err := timeMs(iterations, func() error {
		for _, doc := range docs {
			if _, err := yaml.Marshal(doc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	toYamlMs, err := timeMs(iterations, func() error { _, err := yaml.Marshal(docs); return err })
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]float64{"parse_ms": parseMs, "print_ms": printMs, "to_yaml_ms": toYamlMs})
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "go-yaml:", err)
		os.Exit(1)
	}
}
