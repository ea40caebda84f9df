#!/usr/bin/env python3
"""Renders one chart with Helm's own engine (helm-python-sdk) and prints the
result as JSON: {"ok": {template path: text}} or {"err": Helm's message}.

Usage: helm_render.py <chart dir> <values.yaml or -> <release> <namespace> <kube version>
"""
import json
import sys

from helm_python import _native, chart


def main():
    chart_dir, values_file, release, namespace, kube_version = sys.argv[1:6]
    values = {} if values_file == "-" else chart.values_from_yaml(open(values_file).read())
    opts = json.dumps({"name": release, "namespace": namespace, "kube_version": kube_version})
    try:
        loaded = chart.Chart.load(chart_dir)
        out = _native.call_string("helm_render", loaded._raw(), json.dumps(values), opts)
        json.dump({"ok": json.loads(out)}, sys.stdout)
    except Exception as error:  # Helm's message is the result under test
        json.dump({"err": str(error)}, sys.stdout)


if __name__ == "__main__":
    main()
