#!/usr/bin/env python3
"""Times Helm's own engine (helm-python-sdk) rendering one chart case, for
plumb's render benchmark: the peer measured in the same run.

Usage: helm_bench.py <chart dir> <values.yaml> <kube version> <iterations>
Prints JSON: {"load_ms": ..., "render_ms": [...]} (render_ms per iteration,
chart loaded once, values passed as JSON like `helm template -f`).
"""
import json
import sys
import time

from helm_python import _native, chart


def main():
    chart_dir, values_file, kube_version, iterations = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    start = time.perf_counter()
    loaded = chart.Chart.load(chart_dir)
    load_ms = (time.perf_counter() - start) * 1000
    values = chart.values_from_yaml(open(values_file).read())
    opts = json.dumps({"name": "rel", "namespace": "ns", "kube_version": kube_version})
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        _native.call_string("helm_render", loaded._raw(), json.dumps(values), opts)
        times.append((time.perf_counter() - start) * 1000)
    json.dump({"load_ms": load_ms, "render_ms": times}, sys.stdout)


if __name__ == "__main__":
    main()
