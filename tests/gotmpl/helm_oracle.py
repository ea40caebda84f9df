#!/usr/bin/env python3
"""Renders template cases with Helm's own engine (helm-python-sdk, Helm SDK v4.2.3).

Input (stdin): JSON list of cases {"id", "template", "helpers"?, "values"?, "schema"?}.
Output (stdout): JSON object id -> {"ok": rendered text} or {"err": Helm's message}.

Each case becomes a throwaway chart: Chart.yaml, values.yaml (the case's values as
JSON, which is YAML), templates/case.yaml and, when given, templates/_helpers.tpl
and values.schema.json.
The release is named "rel" in namespace "ns", as the Rust side assumes.
"""
import json
import os
import sys
import tempfile

from helm_python import _native, chart


def render(case, root):
    path = os.path.join(root, case["id"].replace("/", "_"))
    os.makedirs(os.path.join(path, "templates"))
    with open(os.path.join(path, "Chart.yaml"), "w") as f:
        f.write("apiVersion: v2\nname: case\nversion: 1.2.3\nappVersion: \"4.5.6\"\n")
    with open(os.path.join(path, "values.yaml"), "w", encoding="utf-8") as f:
        json.dump(case.get("values", {}), f, ensure_ascii=False)
    with open(os.path.join(path, "templates", "case.yaml"), "w") as f:
        f.write(case["template"])
    if case.get("schema"):
        with open(os.path.join(path, "values.schema.json"), "w") as f:
            json.dump(case["schema"], f)
    if case.get("helpers"):
        with open(os.path.join(path, "templates", "_helpers.tpl"), "w") as f:
            f.write(case["helpers"])
    opts = {"name": "rel", "namespace": "ns", "kube_version": "v1.30.0"}
    try:
        loaded = chart.Chart.load(path)
        out = _native.call_string("helm_render", loaded._raw(), json.dumps({}), json.dumps(opts))
        return {"ok": json.loads(out).get("case/templates/case.yaml", "")}
    except Exception as error:  # Helm's error text is the result under test
        return {"err": str(error)}


def main():
    cases = json.load(sys.stdin)
    with tempfile.TemporaryDirectory(prefix="plumb-helm-oracle-") as root:
        results = {case["id"]: render(case, root) for case in cases}
    json.dump(results, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
