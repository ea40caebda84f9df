#!/usr/bin/env python3
"""The objects Helm's install applies for a chart, by Helm itself
(helm-python-sdk, Helm SDK v4.2.3): the oracle of chart conformance.

Usage: helm_install.py <kubedecode binary>   (cases on stdin, results on stdout)

Input: JSON list of {"id", "chart": dir, "values": file or "-", "release",
"namespace", "kube_version", "api_versions": [...]}.
Output: JSON object id -> {"ok": [{"source", "hook", "object"}]} or {"err": Helm's message}.

Where the objects come from, as `helm install` applies them:
- the release manifest of a client-only dry-run install (`helm install
  --dry-run=client`): every document that is not a hook, assembled by Helm;
- hooks: Helm's install applies each hook document as `SortManifests`
  split it. The SDK's install result has no hooks, so they are the
  documents of the same render (Helm's engine, `helm_render`) that the
  release manifest does not hold, split with Helm's separator (a copy of
  `releaseutil.SplitManifests` below). Documents of templates that are
  random on every render land there too; the caller skips those templates;
- CRDs: Helm's install applies each file of `crds/` (chart and enabled
  subcharts) as one stream.
Each stream is decoded by `kubedecode` (apimachinery's YAML reader and
sigs.k8s.io/yaml, as Kubernetes' resource builder reads Helm's manifest).
"""
import json
import os
import re
import subprocess
import sys

from helm_python import _native, chart, config

# releaseutil.SplitManifests: Go's \s is ASCII; TrimLeftFunc(unicode.IsSpace).
SEPARATOR = re.compile(r"(?:^|[\t\n\f\r ]*\n)---[\t\n\f\r ]*")
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def split_manifests(text):
    docs = SEPARATOR.split(text.lstrip(GO_SPACE))
    return [d.lstrip(GO_SPACE) for d in docs if d.strip(GO_SPACE) != ""]


def manifest_documents(manifest):
    """(source, document) of each entry Helm wrote as `---\\n# Source: p\\n<doc>\\n`."""
    out = []
    for chunk in manifest.split("---\n# Source: ")[1:]:
        source, _, rest = chunk.partition("\n")
        out.append((source, rest[:-1] if rest.endswith("\n") else rest))
    return out


def oracle(case, cfg):
    values = {} if case["values"] == "-" else chart.values_from_yaml(open(case["values"]).read())
    opts = {"kube_version": case["kube_version"], "api_versions": case.get("api_versions", [])}
    loaded = chart.Chart.load(case["chart"])
    install = dict(opts, namespace=case["namespace"], dry_run="client")
    release = json.loads(
        _native.call_string(
            "helm_install", cfg._raw(), _native.HANDLE(0), loaded._raw(), None, case["release"],
            json.dumps(values), json.dumps(install),
        )
    )
    render = dict(opts, name=case["release"], namespace=case["namespace"])
    files = json.loads(_native.call_string("helm_render", loaded._raw(), json.dumps(values), json.dumps(render)))
    streams = {}
    in_manifest = {}
    for n, (source, doc) in enumerate(manifest_documents(release.get("manifest", ""))):
        streams[f"manifest/{n}"] = (source, False, f"---\n# Source: {source}\n{doc}\n")
        in_manifest[(source, doc)] = in_manifest.get((source, doc), 0) + 1
    for path in sorted(files):
        base = path.rsplit("/", 1)[-1]
        if base.startswith("_") or path.endswith("NOTES.txt") or files[path].strip(GO_SPACE) == "":
            continue
        for n, doc in enumerate(split_manifests(files[path])):
            if in_manifest.get((path, doc), 0) > 0:
                in_manifest[(path, doc)] -= 1
            else:
                streams[f"hook/{path}/{n}"] = (path, True, doc)
    top = loaded.name
    for n, crd in enumerate(loaded.crds):
        # A subchart's CRDs come with it only when it is enabled (it renders,
        # or it has no templates to tell by).
        owner = crd["filename"].rsplit("/crds/", 1)[0]
        if owner != top:
            rendered = any(p.startswith(owner + "/") for p in files)
            templates = os.path.join(case["chart"], owner[len(top) + 1:], "templates")
            if not rendered and os.path.isdir(templates) and os.listdir(templates):
                continue
        streams[f"crd/{n}"] = (crd["filename"], False, crd["data"])
    return streams


def main():
    kubedecode = sys.argv[1]
    cases = json.load(sys.stdin)
    cfg = config.Config(namespace="default")
    results = {}
    for case in cases:
        try:
            streams = oracle(case, cfg)
        except Exception as error:  # Helm's message is the result under test
            results[case["id"]] = {"err": str(error)}
            continue
        decoded = json.loads(
            subprocess.run(
                [kubedecode], input=json.dumps({k: v[2] for k, v in streams.items()}),
                capture_output=True, text=True, check=True,
            ).stdout
        )
        objects, errors = [], []
        for key, (source, hook, _) in streams.items():
            if "err" in decoded[key]:
                errors.append(f"{source}: {decoded[key]['err']}")
                continue
            objects.extend({"source": source, "hook": hook, "object": o} for o in decoded[key]["ok"])
        results[case["id"]] = {"err": "; ".join(errors)} if errors else {"ok": objects}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
